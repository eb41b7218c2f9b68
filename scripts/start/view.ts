// The live view: a summary of the latest readings (rates over the recent ones), rendered as a screen
// refreshed in place on a terminal, or as one plain line for logs and CI. Pure: no I/O here.
import { DEFENDER_QUOTAS } from '../../services/defender-writer/src/defender/quota.ts';
import type { Endpoint } from '../../services/defender-writer/src/defender/quota.ts';
import { byLabel, total } from './prom.ts';
import type { OperatorStatus } from './status.ts';
import type { Reading, Readiness } from './scrape.ts';

const ENDPOINTS = Object.keys(DEFENDER_QUOTAS) as Endpoint[];
const BREAKER = ['closed', 'half-open', 'open'];

export interface Summary {
  readonly eventsPerSecond: number;
  readonly events: number;
  readonly published: Record<string, number>;
  readonly applied: Record<string, number>;
  /** Per endpoint: calls so far, calls in the last minute, the per-minute quota. */
  readonly calls: Record<string, { total: number; lastMinute: number; perMinute: number }>;
  readonly breaker: string;
  /** Indicators in Defender: the emulator's count, else what the writer says it holds. */
  readonly held: { total: number; byType?: Record<string, number>; byAction?: Record<string, number>; source: 'emulator' | 'writer' };
  readonly cap: number;
  /** The tenant's side of the room: Defender's limit in force, what other creators hold, our keys waiting for room. */
  readonly room: { readonly tenantLimit: number; readonly foreign: number; readonly waiting: number };
  readonly lag: number;
  readonly deadLetters: Record<string, number>;
  readonly ready: { listener: Readiness; writer: Readiness };
  /** With `--sightings`: what the reporter read and wrote, and what OpenCTI holds (emulator). */
  readonly sightings?: {
    readonly alerts: Record<string, number>;
    readonly written: number;
    readonly held?: { total: number; alerts: number; entities: number };
    readonly ready: Readiness;
  };
}

const delta = (a: number, b: number): number => Math.max(0, a - b);

/** Stream events, heartbeats aside (one every 5 s per stream, not activity). */
const streamEvents = (r: Reading): number => Object.entries(byLabel(r.listener.samples, 'octi_listener_events_total', 'event')).reduce((n, [event, v]) => (event === 'heartbeat' ? n : n + v), 0);

/** The newest reading taken at least `ms` before `last`, else the oldest one. */
function before(history: readonly Reading[], last: Reading, ms: number): Reading {
  let pick = history[0]!;
  for (const r of history) if (r.at <= last.at - ms) pick = r;
  return pick;
}

export function summarize(history: readonly Reading[]): Summary | undefined {
  const last = history.at(-1);
  if (!last) return undefined;
  const l = last.listener.samples;
  const w = last.writer.samples;
  const recent = before(history, last, 5000);
  const minuteAgo = before(history, last, 60_000);
  const seconds = (last.at - recent.at) / 1000;
  const events = streamEvents(last);
  const calls: Summary['calls'] = {};
  for (const e of ENDPOINTS) {
    const now = total(w, 'defender_api_calls_total', { endpoint: e });
    calls[e] = {
      total: now,
      lastMinute: delta(now, total(minuteAgo.writer.samples, 'defender_api_calls_total', { endpoint: e })),
      perMinute: DEFENDER_QUOTAS[e].find((q) => q.windowMs === 60_000)?.limit ?? 0,
    };
  }
  const deadLetters: Record<string, number> = {};
  for (const [who, samples, name] of [['listener', l, 'octi_listener_dead_letters_total'], ['writer', w, 'octi_writer_dead_letters_total']] as const) {
    for (const [reason, n] of Object.entries(byLabel(samples, name, 'reason'))) if (n > 0) deadLetters[`${who}:${reason}`] = n;
  }
  const breakerSample = w.find((s) => s.name === 'defender_api_breaker_state');
  return {
    eventsPerSecond: seconds > 0 ? delta(events, streamEvents(recent)) / seconds : 0,
    events,
    published: byLabel(l, 'octi_listener_commands_total', 'op'),
    applied: byLabel(w, 'octi_writer_commands_total', 'op'),
    calls,
    breaker: breakerSample ? (BREAKER[breakerSample.value] ?? String(breakerSample.value)) : '?',
    held: last.defender
      ? { total: last.defender.total, byType: last.defender.byType, byAction: last.defender.byAction, source: 'emulator' }
      : { total: total(w, 'octi_writer_owned_indicators'), source: 'writer' },
    cap: total(w, 'octi_writer_cap_capacity'),
    room: { tenantLimit: total(w, 'octi_writer_tenant_limit'), foreign: total(w, 'octi_writer_foreign_indicators'), waiting: total(w, 'octi_writer_cap_waiting_keys') },
    lag: total(w, 'octi_writer_consumer_lag'),
    deadLetters,
    ready: { listener: last.listener.ready, writer: last.writer.ready },
    ...(last.reporter && {
      sightings: {
        alerts: byLabel(last.reporter.samples, 'octi_reporter_alerts_total', 'outcome'),
        written: total(last.reporter.samples, 'octi_reporter_sightings_written_total'),
        ...(last.sightings && { held: last.sightings }),
        ready: last.reporter.ready,
      },
    }),
  };
}

const list = (o: Record<string, number> | undefined): string => {
  const entries = Object.entries(o ?? {}).filter(([, n]) => n > 0);
  return entries.length === 0 ? '-' : entries.sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
};
const readiness = (r: Readiness): string => (r.ok ? 'ready' : `not ready (${r.detail})`);

/** `octi-defender status`'s verdict in a few words. */
function verdict(status: OperatorStatus | undefined): string {
  if (!status) return 'not run yet';
  if (status.exitCode === 0) return 'ok';
  return status.attention.length > 0 ? `${status.attention.length} need attention` : `could not tell (exit ${status.exitCode})`;
}

/** The plain line for logs and CI: always states how many indicators Defender holds. */
export function line(s: Summary, status?: OperatorStatus): string {
  const calls = Object.entries(s.calls).map(([e, c]) => `${e} ${c.total}`).join(' ');
  return [
    `defender holds ${s.held.total}/${s.cap} indicators (${list(s.held.byAction)})`,
    `events ${s.eventsPerSecond.toFixed(1)}/s (${s.events})`,
    `published ${list(s.published)}`,
    `applied ${list(s.applied)}`,
    `calls ${calls}`,
    `breaker ${s.breaker}`,
    `lag ${s.lag}`,
    `room ${s.cap} (limit ${s.room.tenantLimit}, others hold ${s.room.foreign}, ${s.room.waiting} waiting)`,
    `dead letters ${list(s.deadLetters)}`,
    `listener ${s.ready.listener.ok ? 'ready' : 'not ready'}, writer ${s.ready.writer.ok ? 'ready' : 'not ready'}`,
    ...(s.sightings
      ? [
        `sightings ${s.sightings.held ? `${s.sightings.held.total} (${s.sightings.held.alerts} alerts)` : `written ${s.sightings.written}`}, alerts ${list(s.sightings.alerts)}, reporter ${
          s.sightings.ready.ok ? 'ready' : 'not ready'
        }`,
      ]
      : []),
    `status ${verdict(status)}`,
  ].join(' | ');
}

/** The screen: `header` (where to look), then the figures, then the latest problems. */
export function screen(s: Summary | undefined, header: readonly string[], problems: readonly string[], uptimeSec: number, status?: OperatorStatus): string[] {
  const out = [...header, '', `running for ${Math.floor(uptimeSec / 60)}m${String(Math.floor(uptimeSec % 60)).padStart(2, '0')}s — Ctrl-C stops everything`, ''];
  if (!s) return [...out, 'waiting for the first readings…'];
  const pct = (n: number, of: number): string => (of > 0 ? `${Math.round((100 * n) / of)}%` : '-');
  out.push(
    `OpenCTI events      ${s.eventsPerSecond.toFixed(1)}/s   (${s.events} received)`,
    `commands published  ${list(s.published)}`,
    `commands applied    ${list(s.applied)}`,
    `Defender calls      ${Object.entries(s.calls).map(([e, c]) => `${e} ${c.total} (last min ${c.lastMinute}/${c.perMinute}, ${pct(c.lastMinute, c.perMinute)})`).join('   ')}`,
    `circuit breaker     ${s.breaker}`,
    `held in Defender    ${s.held.total} of ${s.cap} (${pct(s.held.total, s.cap)})${s.held.source === 'writer' ? ' as the writer counts them' : ''}`,
    ...(s.held.byType ? [`  by type           ${list(s.held.byType)}`, `  by action         ${list(s.held.byAction)}`] : []),
    `room for ours       ${s.cap} (Defender's limit ${s.room.tenantLimit}, other creators hold ${s.room.foreign}; ${s.room.waiting} of our keys wait for room)`,
    `consumer lag        ${s.lag}`,
    `dead letters        ${list(s.deadLetters)}`,
    `stream-listener     ${readiness(s.ready.listener)}`,
    `defender-writer     ${readiness(s.ready.writer)}`,
  );
  if (s.sightings) {
    const h = s.sightings.held;
    out.push(
      `alerts read         ${list(s.sightings.alerts)}`,
      `sightings           ${h ? `${h.total} in OpenCTI on ${h.entities} indicators, counting ${h.alerts} alerts; ` : ''}${s.sightings.written} writes`,
      `sighting-reporter   ${readiness(s.sightings.ready)}`,
    );
  }
  out.push(`octi-defender status ${verdict(status)}`, ...(status?.attention ?? []).map((a) => `  ${a}`));
  if (problems.length > 0) out.push('', 'latest warnings and errors:', ...problems.map((p) => `  ${p}`));
  return out;
}
