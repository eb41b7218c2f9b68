// `status`'s pure core: what Kafka and the services' status snapshots say, turned into one report
// per stream and per tenant, the findings that need attention and the exit code.
import { eventTime } from '@octi-defender/indicators';
import type { GroupDescription, PartitionLag } from '@octi-defender/kafka';
import type { StatusSample, StatusSnapshot } from '@octi-defender/platform';
import type { KeyCounts } from './keys.ts';

interface Thresholds {
  /** A stream position older than this needs attention. */
  readonly staleAfterMs: number;
  /** A tenant whose writers are more than this many commands behind needs attention. */
  readonly maxLag: number;
}

export interface StreamInput {
  readonly streamId: string;
  /** Last event id whose commands are all in Kafka; undefined: no checkpoint. */
  readonly lastEventId?: string | undefined;
  readonly updatedAt?: string | undefined;
}

export interface TenantInput {
  readonly tenant: string;
  readonly group: string;
  readonly commandsTopic: string;
  readonly members: GroupDescription;
  readonly lag: readonly PartitionLag[];
  /** From the state topic (`status --keys`), for the configured tenant. */
  readonly keys?: KeyCounts | undefined;
}

export interface StatusInput {
  readonly now: number;
  readonly listenerGroup: GroupDescription;
  readonly checkpointsTopic: string;
  readonly streams: readonly StreamInput[];
  readonly snapshots: readonly StatusSnapshot[];
  readonly tenants: readonly TenantInput[];
  /** Dead letters not redriven, by `<service>/<reason>`. */
  readonly deadLetters: Readonly<Record<string, number>>;
}

interface Finding {
  readonly attention: boolean;
  readonly subject: string;
  readonly message: string;
}

interface WriterReport {
  readonly instance: string;
  readonly memberId?: string | undefined;
  readonly host?: string | undefined;
  readonly partitions: readonly number[];
  /** From its status snapshot; undefined when it published none recently. */
  readonly snapshotAgeMs?: number | undefined;
  readonly paused?: boolean | undefined;
  readonly breaker?: 'closed' | 'half-open' | 'open' | undefined;
  readonly held?: number | undefined;
  readonly capacity?: number | undefined;
  readonly waitingOverCap?: number | undefined;
  readonly heldForeign?: number | undefined;
  readonly repairPending?: boolean | undefined;
  readonly lastReconcileAt?: number | undefined;
  readonly drift?: Readonly<Record<string, number>> | undefined;
}

interface TenantReport {
  readonly tenant: string;
  readonly group: string;
  readonly groupState: string;
  readonly lag: bigint;
  readonly lagByPartition: Readonly<Record<string, string>>;
  readonly writers: readonly WriterReport[];
  readonly held: number;
  readonly capacity: number;
  readonly keys?: KeyCounts | undefined;
}

interface StreamReport {
  readonly streamId: string;
  readonly position?: string | undefined;
  readonly ageMs?: number | undefined;
}

interface StatusReport {
  readonly at: string;
  readonly listener: { readonly group: string; readonly active?: string | undefined; readonly standby: readonly string[]; readonly streams: readonly StreamReport[] };
  readonly tenants: readonly TenantReport[];
  readonly deadLetters: Readonly<Record<string, number>>;
  readonly findings: readonly Finding[];
  readonly exitCode: number;
}

/** A snapshot is from a live instance while younger than this many of its intervals. */
const LIVE_INTERVALS = 3;

const value = (s: StatusSnapshot, name: string): number | undefined => {
  const samples: StatusSample[] | undefined = s.metrics[name];
  return samples && samples.length > 0 ? samples.reduce((a, x) => a + x.value, 0) : undefined;
};
const BREAKER = ['closed', 'half-open', 'open'] as const;

function isLive(s: StatusSnapshot, now: number): boolean {
  return now - s.at <= LIVE_INTERVALS * s.intervalMs;
}

function formatAge(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  if (ms < 172_800_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.round(ms / 86_400_000)} d`;
}

function writerReport(snapshot: StatusSnapshot | undefined, member: GroupDescription['members'][number] | undefined, topic: string, now: number): WriterReport {
  const partitions = (member?.assignment ?? []).filter((a) => a.topic === topic).map((a) => a.partition).sort((a, b) => a - b);
  if (!snapshot) return { instance: member?.clientId ?? 'unknown', memberId: member?.memberId, host: member?.host, partitions };
  const breaker = value(snapshot, 'defender_api_breaker_state');
  const drift: Record<string, number> = {};
  for (const s of snapshot.metrics.octi_writer_reconcile_drift ?? []) drift[s.labels.kind ?? 'unknown'] = s.value;
  const reconciles = snapshot.metrics.octi_writer_reconciles_total ?? [];
  const lastReconcileAt = reconciles.length > 0 && reconciles.some((s) => s.value > 0) ? Math.max(...reconciles.filter((s) => s.value > 0).map((s) => s.changedAt)) : undefined;
  return {
    instance: snapshot.instance,
    memberId: member?.memberId,
    host: member?.host,
    partitions,
    snapshotAgeMs: now - snapshot.at,
    paused: value(snapshot, 'octi_writer_paused') === undefined ? undefined : value(snapshot, 'octi_writer_paused')! > 0,
    breaker: breaker === undefined ? undefined : BREAKER[Math.max(0, Math.min(2, Math.round(breaker)))],
    held: value(snapshot, 'octi_writer_owned_indicators'),
    capacity: value(snapshot, 'octi_writer_cap_capacity'),
    waitingOverCap: value(snapshot, 'octi_writer_cap_waiting_keys'),
    heldForeign: value(snapshot, 'octi_writer_foreign_held_keys'),
    repairPending: value(snapshot, 'octi_writer_repair_pending') === undefined ? undefined : value(snapshot, 'octi_writer_repair_pending')! > 0,
    lastReconcileAt,
    drift,
  };
}

export function evaluateStatus(input: StatusInput, t: Thresholds): StatusReport {
  const findings: Finding[] = [];
  const attention = (subject: string, message: string): void => void findings.push({ attention: true, subject, message });
  const note = (subject: string, message: string): void => void findings.push({ attention: false, subject, message });
  const live = input.snapshots.filter((s) => isLive(s, input.now));

  // The listener: the member holding partition 0 of the checkpoints topic is the active one.
  const activeMember = input.listenerGroup.members.find((m) => m.assignment.some((a) => a.topic === input.checkpointsTopic && a.partition === 0));
  const standby = input.listenerGroup.members.filter((m) => m !== activeMember).map((m) => `${m.clientId}@${m.host}`);
  if (!activeMember) attention('listener', `no active stream-listener in group ${input.listenerGroup.groupId} (state ${input.listenerGroup.state}): is it running?`);
  const streams = input.streams.map((s): StreamReport => {
    const ms = s.lastEventId === undefined ? undefined : eventTime(s.lastEventId);
    const ageMs = ms === undefined ? undefined : Math.max(0, input.now - ms);
    if (s.lastEventId === undefined) attention(`stream ${s.streamId}`, 'no checkpoint yet: the listener has not published from this stream');
    else if (ageMs !== undefined && ageMs > t.staleAfterMs) {
      attention(`stream ${s.streamId}`, `position ${s.lastEventId} is ${formatAge(ageMs)} old (over ${formatAge(t.staleAfterMs)}): the listener is stuck, disconnected or stopped`);
    }
    return { streamId: s.streamId, position: s.lastEventId, ageMs };
  });
  for (const s of live.filter((x) => x.service === 'stream-listener')) {
    for (const e of s.metrics.octi_listener_config_errors_total ?? []) {
      if (e.value > 0 && input.now - e.changedAt <= LIVE_INTERVALS * s.intervalMs) {
        attention(`stream ${e.labels.stream ?? '?'}`, `OpenCTI refused the stream (${e.labels.status ?? '?'}) recently: run octi-defender check`);
      }
    }
  }

  const tenants = input.tenants.map((tn): TenantReport => {
    const snaps = live.filter((s) => s.service === 'defender-writer' && s.info.group === tn.group);
    const writers: WriterReport[] = [];
    const seen = new Set<StatusSnapshot>();
    for (const m of tn.members.members) {
      const snap = snaps.find((s) => m.clientId.endsWith(s.instance));
      if (snap) seen.add(snap);
      writers.push(writerReport(snap, m, tn.commandsTopic, input.now));
    }
    for (const s of snaps) if (!seen.has(s)) writers.push(writerReport(s, undefined, tn.commandsTopic, input.now));
    const lag = tn.lag.reduce((a, p) => a + p.lag, 0n);
    const subject = `tenant ${tn.tenant}`;
    if (tn.members.members.length === 0) attention(subject, `no live writer in group ${tn.group} (state ${tn.members.state})`);
    for (const w of writers) {
      if (w.paused) attention(subject, `writer ${w.instance} is paused (Defender failing${w.breaker === 'open' ? ', circuit breaker open' : ''}): nothing is applied until it resumes`);
      else if (w.breaker === 'open') attention(subject, `writer ${w.instance}: circuit breaker open`);
      if (w.waitingOverCap !== undefined ? w.waitingOverCap > 0 : w.capacity !== undefined && w.held !== undefined && w.capacity > 0 && w.held >= w.capacity) {
        attention(
          subject,
          `writer ${w.instance} is short of room: ${w.held ?? '?'} of ${w.capacity ?? '?'} indicators held${
            w.waitingOverCap ? `, ${w.waitingOverCap} keys waiting over the cap` : ', new keys wait over the cap'
          } (MICROSOFT_DEFENDER_INTEL_MAX_INDICATORS, or free room in Defender)`,
        );
      }
      if (w.repairPending) note(subject, `writer ${w.instance}: repair of an earlier owner's unfinished work pending`);
      if (w.memberId !== undefined && w.snapshotAgeMs === undefined) note(subject, `writer ${w.instance} published no status snapshot recently (an older version, or STATUS_INTERVAL_MS too long)`);
    }
    if (lag > BigInt(t.maxLag)) attention(subject, `${lag} commands behind (over ${t.maxLag})`);
    const held = writers.reduce((a, w) => a + (w.held ?? 0), 0);
    const capacity = writers.reduce((a, w) => a + (w.capacity ?? 0), 0);
    if (tn.keys) {
      // Waiting keys are over the cap, held back as another creator's, or not sent yet (a send pending).
      const overCap = tn.keys.waiting - writers.reduce((a, w) => a + (w.heldForeign ?? 0), 0);
      if (overCap > 0 && capacity > 0 && held >= capacity) attention(subject, `short of room: ${overCap} keys wait over the cap (${held} of ${capacity} held)`);
    }
    return {
      tenant: tn.tenant,
      group: tn.group,
      groupState: tn.members.state,
      lag,
      lagByPartition: Object.fromEntries(tn.lag.map((p) => [String(p.partition), p.lag.toString()])),
      writers,
      held,
      capacity,
      keys: tn.keys,
    };
  });
  if (input.tenants.length === 0) attention('writers', 'no tenant found: no writer published a status snapshot, and WRITER_TENANT_NAME is not set');
  const dead = Object.values(input.deadLetters).reduce((a, n) => a + n, 0);
  if (dead > 0) note('dead letters', `${dead} not redriven: octi-defender dlq list`);
  return {
    at: new Date(input.now).toISOString(),
    listener: { group: input.listenerGroup.groupId, active: activeMember ? `${activeMember.clientId}@${activeMember.host}` : undefined, standby, streams },
    tenants,
    deadLetters: input.deadLetters,
    findings,
    exitCode: findings.some((f) => f.attention) ? 1 : 0,
  };
}

/** The report as lines for a terminal. */
export function renderStatus(r: StatusReport, now: number): string[] {
  const out: string[] = [];
  out.push(`listener group ${r.listener.group}: active ${r.listener.active ?? 'none'}${r.listener.standby.length > 0 ? `, standby ${r.listener.standby.join(', ')}` : ''}`);
  for (const s of r.listener.streams) out.push(`  stream ${s.streamId}: position ${s.position ?? 'none'}${s.ageMs === undefined ? '' : `, ${formatAge(s.ageMs)} old`}`);
  for (const t of r.tenants) {
    out.push(`tenant ${t.tenant} (group ${t.group}, ${t.groupState}): lag ${t.lag}, indicators held ${t.held} of ${t.capacity}`);
    if (t.keys) {
      const policy = Object.entries(t.keys.policy).map(([k, n]) => `${k} ${n}`).join(', ') || 'none';
      out.push(
        `  keys: in Defender ${t.keys.inDefender}, waiting ${t.keys.waiting} (over the cap, held back as foreign, or a send pending), refused by Defender ${t.keys.rejected}, not sent by policy: ${policy}`,
      );
    }
    for (const w of t.writers) {
      const parts = [
        `partitions ${w.partitions.length > 0 ? w.partitions.join(',') : 'none'}`,
        w.paused === undefined ? undefined : w.paused ? 'PAUSED' : 'running',
        w.breaker === undefined ? undefined : `breaker ${w.breaker}`,
        w.held === undefined ? undefined : `held ${w.held}/${w.capacity ?? '?'}`,
        w.waitingOverCap === undefined ? undefined : `over-cap waiting ${w.waitingOverCap}`,
        w.heldForeign === undefined ? undefined : `foreign held back ${w.heldForeign}`,
        w.lastReconcileAt === undefined
          ? 'no reconciliation yet'
          : `last reconciliation ${formatAge(now - w.lastReconcileAt)} ago, drift ${Object.entries(w.drift ?? {}).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`,
      ].filter((x) => x !== undefined);
      out.push(`  writer ${w.instance}: ${parts.join(', ')}`);
    }
  }
  const dead = Object.entries(r.deadLetters);
  out.push(`dead letters (not redriven): ${dead.length === 0 ? 'none' : dead.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  for (const f of r.findings) out.push(`${f.attention ? '✗' : '•'} ${f.subject}: ${f.message}`);
  out.push(r.exitCode === 0 ? 'nothing needs attention' : `${r.findings.filter((f) => f.attention).length} finding(s) need attention`);
  return out;
}
