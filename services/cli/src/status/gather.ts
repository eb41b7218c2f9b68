// What `status` reads from Kafka: the services' status snapshots, the listener's checkpoints and
// lease group, each tenant's consumer group (members, assignments, committed offsets) and the DLQ.
import { defaultTopicSettings, type CompactedValue, type Kafka } from '@octi-defender/kafka';
import { decodeStatusSnapshot, type StatusSnapshot } from '@octi-defender/platform';
import { decodeCheckpoint, listenerEnv } from '@octi-defender/stream-listener';
import { countByReason } from '../dlq/letters.ts';
import { readDlq } from '../dlq/read.ts';
import type { Settings } from '../settings.ts';
import type { StatusInput, StreamInput, TenantInput } from './evaluate.ts';
import { countKeys } from './keys.ts';

/** Tenants whose writers published nothing for this long are no longer listed (unless configured or asked for). */
const FORGET_TENANT_AFTER_MS = 24 * 3_600_000;

export async function gatherStatus(kafka: Kafka, s: Settings, env: NodeJS.ProcessEnv, now: () => number, only: readonly string[] = [], withKeys = false): Promise<StatusInput> {
  if (!s.kafka.ok) throw new Error('Kafka is not configured');
  const admin = await kafka.admin();
  try {
    const topics = new Set(await admin.listTopics());
    const snapshots: StatusSnapshot[] = [];
    if (topics.has(defaultTopicSettings.statusTopic)) {
      for (const [, v] of await kafka.readCompacted(defaultTopicSettings.statusTopic)) {
        const snap = decodeStatusSnapshot(v.value.toString('utf8'));
        if (snap) snapshots.push(snap);
      }
    }
    const listener = s.listener?.ok ? s.listener.config : undefined;
    const listenerSnap = snapshots.filter((x) => x.service === 'stream-listener').sort((a, b) => b.at - a.at)[0];
    const checkpointsTopic = listener?.checkpointsTopic ?? listenerSnap?.info.checkpointsTopic ?? listenerEnv.checkpointsTopic.default!;
    const listenerGroup = listener?.groupId ?? listenerSnap?.info.group ?? listenerEnv.groupId.default!;
    const checkpoints: Map<string, CompactedValue> = topics.has(checkpointsTopic) ? await kafka.readCompacted(checkpointsTopic) : new Map<string, CompactedValue>();
    const streamIds = new Set<string>([...(listener?.streamIds ?? []), ...(listenerSnap?.info.streams?.split(',').filter((x) => x !== '') ?? []), ...checkpoints.keys()]);
    const streams: StreamInput[] = [...streamIds].sort().map((id) => {
      const c = decodeCheckpoint(id, checkpoints.get(id)?.value ?? null);
      return { streamId: id, lastEventId: c?.lastEventId, updatedAt: c?.updatedAt };
    });

    const groups = new Map<string, { tenant: string; commandsTopic: string }>();
    const writer = s.writer?.ok ? s.writer.config : undefined;
    if (writer) groups.set(writer.consumerGroup, { tenant: writer.tenantName, commandsTopic: writer.commandsTopic });
    else if (env.WRITER_TENANT_NAME) {
      groups.set(env.KAFKA_CONSUMER_GROUP || `defender-writer.${env.WRITER_TENANT_NAME}`, { tenant: env.WRITER_TENANT_NAME, commandsTopic: s.kafka.config.commandsTopic });
    }
    for (const snap of snapshots.filter((x) => x.service === 'defender-writer' && (now() - x.at < FORGET_TENANT_AFTER_MS || only.includes(x.info.tenant ?? '')))) {
      const group = snap.info.group;
      if (group && !groups.has(group)) groups.set(group, { tenant: snap.info.tenant ?? group, commandsTopic: snap.info.commandsTopic ?? s.kafka.config.commandsTopic });
    }
    // A tenant asked for by name and seen nowhere: its writers' default group (none running shows as such).
    for (const tenant of only) {
      if (![...groups.values()].some((g) => g.tenant === tenant)) groups.set(`defender-writer.${tenant}`, { tenant, commandsTopic: s.kafka.config.commandsTopic });
    }
    const tenants: TenantInput[] = [];
    for (const [group, { tenant, commandsTopic }] of [...groups].filter(([, g]) => only.length === 0 || only.includes(g.tenant)).sort((a, b) => a[1].tenant.localeCompare(b[1].tenant))) {
      const [members, lag] = await Promise.all([admin.describeGroup(group), topics.has(commandsTopic) ? admin.groupLag(group, commandsTopic) : Promise.resolve([])]);
      const keys = withKeys && writer?.consumerGroup === group && topics.has(writer.stateTopic) ? await countKeys(kafka, writer, now()) : undefined;
      tenants.push({ tenant, group, commandsTopic, members, lag, keys });
    }
    const dlqTopic = s.kafka.config.dlqTopic;
    const view = topics.has(dlqTopic) ? await readDlq(kafka, dlqTopic) : undefined;
    return {
      now: now(),
      listenerGroup: await admin.describeGroup(listenerGroup),
      checkpointsTopic,
      streams,
      snapshots,
      tenants,
      deadLetters: view ? countByReason(view.letters.filter((l) => !view.redriven.has(l.id))) : {},
    };
  } finally {
    await admin.close();
  }
}
