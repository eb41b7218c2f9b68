// Operator changes of a stream's position, as new checkpoints (pure). A replay moves the checkpoint
// back to a position (an event id, a date as `<ms>-0`, or the configured start with `recover`, as a
// reset from OpenCTI's UI asks); a resync records a new resync in it. Listener#rewrite writes them
// and restarts from them, so the running term, a restart and a failover all follow the same path.
import { replayPosition } from '@octi-defender/kafka';
import type { Checkpoint } from './checkpoint.ts';
import { newResync, type ResyncState } from './resync.ts';
import { compareEventIds } from '@octi-defender/indicators';
import { laterOf } from './stream-position.ts';

/** Thrown by a change given to Listener#rewrite to refuse the request (the message says why). */
export class RefusedChange extends Error {
  override readonly name = 'RefusedChange';
}

export interface ReplayTarget {
  /** Event id to resume after (`0-0`: from the beginning). */
  readonly from: string;
  /** With a recover date, OpenCTI first sends the current state updated in [from, recover] as creates. */
  readonly recoverUntil?: string;
}

/**
 * Where a reset made in OpenCTI's UI restarts a stream, as pycti's stream helper does: the configured
 * start (`CONNECTOR_LIVE_STREAM_START_FROM`, else `0-0`) with `recover` = now, unless recovery is
 * disabled (`CONNECTOR_LIVE_STREAM_RECOVER=false`).
 */
export function resetTarget(cfg: { startFrom: string | undefined; recover: boolean }, now: Date): ReplayTarget {
  const from = (cfg.startFrom !== undefined ? replayPosition(cfg.startFrom) : undefined) ?? '0-0';
  return cfg.recover ? { from, recoverUntil: now.toISOString() } : { from };
}

/**
 * The checkpoint of a replay from `target`. Refused while the stream resyncs (the resync replays its
 * current state already) and when the target lies after the stream's position: a replay goes back,
 * it never skips events. `seen` is kept: what was read before was read, so history trimmed since is
 * no gap.
 */
export function replayCheckpoint(streamId: string, current: Checkpoint | undefined, target: ReplayTarget, ctx: { startFrom: string | undefined; now: Date }): Checkpoint {
  if (current?.resync) throw new RefusedChange(`stream ${streamId} is resyncing (since ${current.resync.startedAt}); replay once it completes`);
  if (current && compareEventIds(target.from, current.lastEventId) > 0) {
    throw new RefusedChange(`${target.from} is after stream ${streamId}'s position ${current.lastEventId}: a replay goes back, it never skips events`);
  }
  const startFrom = current?.startFrom ?? ctx.startFrom;
  return {
    streamId,
    lastEventId: target.from,
    ...(current?.seen !== undefined ? { seen: current.seen } : {}),
    ...(target.recoverUntil !== undefined ? { recoverUntil: target.recoverUntil } : {}),
    ...(startFrom !== undefined ? { startFrom } : {}),
    ...(current?.resyncRequest !== undefined ? { resyncRequest: current.resyncRequest } : {}),
    updatedAt: ctx.now.toISOString(),
  };
}

/**
 * The checkpoint starting an operator resync. Refused before the first checkpoint (the first start
 * replays the current state already) and while one runs. The resync request of
 * `LISTENER_RESYNC_REQUEST` it remembers is kept, so that one does not run again.
 */
export function resyncCheckpoint(streamId: string, current: Checkpoint | undefined, resync: ResyncState, now: Date): Checkpoint {
  if (!current) throw new RefusedChange(`stream ${streamId} has no checkpoint yet: its first start replays the current state already`);
  if (current.resync) throw new RefusedChange(`stream ${streamId} is resyncing already (since ${current.resync.startedAt})`);
  return { ...current, resync, updatedAt: now.toISOString() };
}

export function operatorResync(now: Date): ResyncState {
  return newResync('operator', now);
}

/**
 * Where the stream must be for a replay to be complete: back where it was before (`before`), and
 * past the recover point when there is one (the current state has then been sent).
 */
export function replayGoal(before: Checkpoint | undefined, target: ReplayTarget): string {
  const recovered = target.recoverUntil !== undefined ? `${Date.parse(target.recoverUntil)}-0` : target.from;
  return laterOf(before?.lastEventId, recovered) ?? target.from;
}

/** What the two checks below read of a listener's StreamPosition (listener.ts imports this module). */
interface Progress {
  readonly checkpoint: Checkpoint | undefined;
  readonly resync: ResyncState | undefined;
}

/** A replay is complete once the committed checkpoint reached its goal (no resync under way). */
export function replayReached(position: Progress | undefined, goal: string): boolean {
  const at = position?.checkpoint;
  return at !== undefined && !at.resync && compareEventIds(at.lastEventId, goal) >= 0;
}

/** A resync is complete once the stream no longer runs that epoch. */
export function resyncFinished(position: Progress | undefined, epoch: string): boolean {
  return position !== undefined && position.resync?.epoch !== epoch && position.checkpoint?.resync?.epoch !== epoch;
}
