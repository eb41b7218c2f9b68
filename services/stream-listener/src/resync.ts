// Resync (anti-entropy with OpenCTI): replay a stream's current state with `recover` between a
// `begin` and an `end` marker published to every partition of the commands topic; writers retract
// the claims of that stream the replay did not assert again. The pure part: when one is needed, the
// markers, and when the replay is over.
import { randomUUID } from 'node:crypto';
import { COMMAND_SCHEMA_VERSION, encodeResyncMarker, type ResyncMarker } from '@octi-defender/indicators';
import { partitionForKey, type OutgoingRecord } from '@octi-defender/kafka';
import { compareEventIds, EVENT_ID } from '@octi-defender/indicators';

export type ResyncReason = ResyncMarker['reason'];

export interface ResyncState {
  readonly epoch: string;
  readonly reason: ResyncReason;
  /** The `recover` date of the replay: objects updated up to it are replayed, then the stream goes live after it. */
  readonly recoverUntil: string;
  readonly startedAt: string;
  /** `begin` markers not yet published (a fresh resync), or published and the replay running. */
  readonly phase: 'begin' | 'replaying';
}

export function newResync(reason: ResyncReason, now: Date): ResyncState {
  const at = now.toISOString();
  return { epoch: randomUUID(), reason, recoverUntil: at, startedAt: at, phase: 'begin' };
}

/**
 * Whether history the listener needed was trimmed: it resumed from a stream id older than the oldest
 * event OpenCTI still holds (the `connected` event's `firstEventId`), and it had not already received
 * an id at or after that event (`seen`: everything before a received id was read, so a checkpoint
 * kept cautiously behind is no gap). OpenCTI then silently starts at the oldest kept event, and
 * deletes in the gap are lost. A start from the beginning (`0`, `0-0`) or live is no gap. May
 * over-report when exactly the events up to `from` were trimmed (a resync too many, never too few).
 */
export function historyGap(from: string | undefined, seen: string | undefined, connectedData: string): { firstEventId: string } | undefined {
  if (from === undefined || !EVENT_ID.test(from) || from === '0-0') return undefined;
  let info: unknown;
  try {
    info = JSON.parse(connectedData);
  } catch {
    return undefined;
  }
  const first = (info as { firstEventId?: unknown } | null)?.firstEventId;
  if (typeof first !== 'string' || !EVENT_ID.test(first)) return undefined;
  if (seen !== undefined && EVENT_ID.test(seen) && compareEventIds(seen, first) >= 0) return undefined;
  return compareEventIds(from, first) < 0 ? { firstEventId: first } : undefined;
}

/** The stream position right after the replay: OpenCTI tails Redis from `<recover ms>-0`. */
export function replayEnd(state: ResyncState): string {
  return `${Date.parse(state.recoverUntil)}-0`;
}

/**
 * The replay is over at the first message with an id after `<recover ms>-0`: replayed objects carry
 * ids derived from their `updated_at` (never after the recover date), their dependencies the same
 * ids, and heartbeats the channel's last id, until the live tail starts after the recover point.
 */
export function replayEndedBy(state: ResyncState, eventId: string): boolean {
  return EVENT_ID.test(eventId) && compareEventIds(eventId, replayEnd(state)) > 0;
}

/** One marker per partition of the commands topic, each keyed so it lands on its partition. */
export function markerRecords(topic: string, streamId: string, state: ResyncState, phase: 'begin' | 'end', partitions: number, now: Date): OutgoingRecord[] {
  const keys = new Map<number, string>();
  for (let i = 0; keys.size < partitions; i++) {
    const key = `resync:${streamId}:${state.epoch}:${i}`;
    const p = partitionForKey(key, partitions);
    if (!keys.has(p)) keys.set(p, key);
  }
  return [...keys].sort(([a], [b]) => a - b).map(([partition, key]) => ({
    topic,
    key,
    value: encodeResyncMarker({ schemaVersion: COMMAND_SCHEMA_VERSION, op: 'resync', phase, streamId, epoch: state.epoch, partition, partitions, reason: state.reason, at: now.toISOString() }),
    headers: { op: 'resync', 'stream-id': streamId, phase },
  }));
}
