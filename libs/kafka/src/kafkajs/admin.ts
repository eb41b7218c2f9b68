// Topic administration over kafkajs.
import { AssignerProtocol, type Admin as KjsAdmin, type Kafka as KafkaJs } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin, TopicPartition } from '../port.ts';

const LEADERS_TIMEOUT_MS = 30_000;

// kafkajs' own waitForLeaders gives up when the broker does not know the new topic yet
// (UNKNOWN_TOPIC_OR_PARTITION while the metadata propagates from the KRaft controller): poll instead.
async function waitForLeaders(a: KjsAdmin, topics: string[]): Promise<void> {
  const deadline = Date.now() + LEADERS_TIMEOUT_MS;
  for (;;) {
    try {
      const { topics: meta } = await a.fetchTopicMetadata({ topics });
      if (meta.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`topics ${topics.join(', ')} have no leader after ${LEADERS_TIMEOUT_MS / 1000} s`);
    await sleep(100);
  }
}

/**
 * A KRaft broker that its controller has fenced (just started, or too loaded to heartbeat in time)
 * is not counted as live, so a create with the default replication factor is refused with
 * INVALID_REPLICATION_FACTOR ("Replication-factor is invalid") until it is unfenced again: retried
 * for this long, backing off from 100 ms to 2 s.
 */
const FENCED_RETRY_MS = 30_000;

/** kafkajs reports per-topic create errors in an aggregate; either may carry the protocol error type. */
function refusedForReplication(err: unknown): boolean {
  const types = [err, ...((err as { errors?: unknown[] } | null)?.errors ?? [])].map((e) => (e as { type?: unknown } | null)?.type);
  return types.includes('INVALID_REPLICATION_FACTOR');
}

export async function createAdmin(kafka: Pick<KafkaJs, 'admin'>, opts: { fencedRetryMs?: number } = {}): Promise<Admin> {
  const a = kafka.admin();
  await a.connect();
  return {
    async createTopics(topics) {
      const existing = new Set(await a.listTopics());
      const missing = topics.filter((t) => !existing.has(t.name));
      if (missing.length === 0) return [];
      const deadline = Date.now() + (opts.fencedRetryMs ?? FENCED_RETRY_MS);
      for (let pause = 100;; pause = Math.min(2000, pause * 2)) {
        try {
          await a.createTopics({
            waitForLeaders: false,
            topics: missing.map((t) => ({
              topic: t.name,
              numPartitions: t.partitions,
              replicationFactor: t.replicationFactor ?? -1,
              configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
            })),
          });
          break;
        } catch (err) {
          // Another process (a second replica) may have created some of them meanwhile: fine.
          const now = new Set(await a.listTopics());
          if (missing.every((t) => now.has(t.name))) break;
          if (!refusedForReplication(err) || Date.now() + pause > deadline) throw err;
          await sleep(pause);
        }
      }
      await waitForLeaders(a, missing.map((t) => t.name));
      return missing.map((t) => t.name);
    },
    async describeTopics(names) {
      if (names.length === 0) return [];
      const { topics } = await a.fetchTopicMetadata({ topics: [...names] });
      return topics.map((t) => ({ name: t.name, partitions: t.partitions.length }));
    },
    listTopics: () => a.listTopics(),
    async deleteTopics(names) {
      if (names.length > 0) await a.deleteTopics({ topics: [...names] });
    },
    async groupLag(groupId, topic) {
      const [ends, committed] = await Promise.all([a.fetchTopicOffsets(topic), a.fetchOffsets({ groupId, topics: [topic] })]);
      const byPartition = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, BigInt(p.offset)]));
      return ends
        .map((e) => {
          const c = byPartition.get(e.partition);
          const next = c === undefined || c < 0n ? null : c;
          const end = BigInt(e.high);
          return { topic, partition: e.partition, committed: next, end, lag: end - (next ?? BigInt(e.low)) };
        })
        .sort((x, y) => x.partition - y.partition);
    },
    async describeGroup(groupId) {
      const { groups } = await a.describeGroups([groupId]);
      const g = groups[0];
      if (!g) return { groupId, state: 'Dead', members: [] };
      return {
        groupId,
        state: g.state,
        members: g.members.map((m) => {
          const assignment: TopicPartition[] = [];
          const decoded = m.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
          for (const [topic, partitions] of Object.entries(decoded?.assignment ?? {})) for (const partition of partitions) assignment.push({ topic, partition });
          return { memberId: m.memberId, clientId: m.clientId, host: m.clientHost, assignment };
        }),
      };
    },
    close: () => a.disconnect(),
  };
}
