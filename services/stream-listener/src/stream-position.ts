// OpenCTI live stream event ids are Redis stream ids `<ms>-<seq>`. What a message proves complete
// (read against sseMiddleware.js and redis-stream.ts):
// - Several events share one id (dependencies are sent with the triggering event's id), so an
//   event's id is complete only once a message with a GREATER id follows it.
// - A heartbeat carries the channel's `lastEventId`, which every written event sets. Dependencies
//   of an event are written before it with awaits in between, so a heartbeat can carry the id of an
//   event whose dependencies were sent but which itself was not yet: a heartbeat `H` proves the ids
//   BEFORE `H`, not `H`.
// - After an empty XREAD the server sets `lastEventId` to `<now>-0` from its own clock, while Redis
//   stamps events with the Redis host's clock: an event can still arrive later with an id below a
//   heartbeat already received. A heartbeat therefore proves only the ids before `H - HEARTBEAT_SKEW_MS`.
// Resuming from an earlier position only re-sends events, which the writer absorbs (idempotent).
import { compareEventIds, EVENT_ID } from '@octi-defender/indicators';

/** Redis sequence numbers are unsigned 64-bit. */
const MAX_SEQ = '18446744073709551615';

/** Clock difference tolerated between OpenCTI's synthetic heartbeat ids and Redis's event ids. */
export const HEARTBEAT_SKEW_MS = 5000;

/** The position a heartbeat with id `id` proves complete: everything before `ms - HEARTBEAT_SKEW_MS`. */
export function heartbeatProof(id: string): string {
  const ms = Number(id.split('-')[0]) - HEARTBEAT_SKEW_MS;
  return ms <= 0 ? '0-0' : `${ms - 1}-${MAX_SEQ}`;
}

/** The later of two positions (undefined = nothing proven). */
export function laterOf(a: string | undefined, b: string | undefined): string | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return compareEventIds(b, a) > 0 ? b : a;
}

/**
 * The checkpoint after publishing `published` messages in stream order, given the message still
 * queued behind them: the latest position proven complete (rules above), never behind `previous`.
 */
export function safeCheckpoint(
  published: ReadonlyArray<{ id: string; heartbeat: boolean }>,
  next: { id: string } | undefined,
  previous: string | undefined,
): string | undefined {
  let best = previous;
  for (let i = 0; i < published.length; i++) {
    const e = published[i] as { id: string; heartbeat: boolean };
    if (e.heartbeat) {
      best = laterOf(best, heartbeatProof(e.id));
      continue;
    }
    const after = i + 1 < published.length ? published[i + 1] : next;
    if (after && EVENT_ID.test(after.id) && compareEventIds(after.id, e.id) > 0) best = laterOf(best, e.id);
  }
  return best;
}
