// The listener's position in each stream, stored in a compacted topic keyed by stream id and
// written in the same Kafka transaction as the commands it covers.
import type { ResyncState } from './resync.ts';

export interface Checkpoint {
  readonly streamId: string;
  /** Last event id whose commands are all in Kafka. */
  readonly lastEventId: string;
  /**
   * The greatest stream id received so far (it can be ahead of `lastEventId`, which only moves on
   * proof): everything before it was read, which tells trimmed history from a cautious checkpoint.
   */
  readonly seen?: string;
  /** The `recover` date of the first start, passed on every reconnection as OpenCTI's clients do. */
  readonly recoverUntil?: string;
  /** The operator start override this position descends from, so it is applied only once. */
  readonly startFrom?: string;
  /** A resync under way: a restart replays it again from the start, in the same epoch. */
  readonly resync?: ResyncState;
  /** The operator resync request (LISTENER_RESYNC_REQUEST) last started, so each value runs once. */
  readonly resyncRequest?: string;
  readonly updatedAt: string;
}

export function encodeCheckpoint(c: Checkpoint): Buffer {
  return Buffer.from(JSON.stringify(c));
}

export function decodeCheckpoint(streamId: string, value: Buffer | null): Checkpoint | undefined {
  if (!value) return undefined;
  try {
    const c = JSON.parse(value.toString('utf8')) as Partial<Checkpoint>;
    if (c.streamId !== streamId || typeof c.lastEventId !== 'string' || !/^\d+(-\d+)?$/.test(c.lastEventId)) return undefined;
    return {
      streamId,
      lastEventId: c.lastEventId,
      ...(typeof c.seen === 'string' && /^\d+-\d+$/.test(c.seen) ? { seen: c.seen } : {}),
      ...(typeof c.recoverUntil === 'string' ? { recoverUntil: c.recoverUntil } : {}),
      ...(typeof c.startFrom === 'string' ? { startFrom: c.startFrom } : {}),
      ...(isResyncState(c.resync) ? { resync: c.resync } : {}),
      ...(typeof c.resyncRequest === 'string' ? { resyncRequest: c.resyncRequest } : {}),
      updatedAt: typeof c.updatedAt === 'string' ? c.updatedAt : '',
    };
  } catch {
    return undefined;
  }
}

function isResyncState(v: unknown): v is ResyncState {
  const r = v as Partial<ResyncState> | null | undefined;
  return typeof r?.epoch === 'string' && (r.reason === 'trimmed_history' || r.reason === 'operator') && typeof r.recoverUntil === 'string'
    && !Number.isNaN(Date.parse(r.recoverUntil)) && typeof r.startedAt === 'string' && (r.phase === 'begin' || r.phase === 'replaying');
}

/**
 * Where to connect from: a new operator override first (applied once: checkpoints written after it
 * remember it), then the checkpoint (resuming with the original recover date), else a first start:
 * from the beginning with `recover` = now, so OpenCTI replays the current state as creates, or live
 * only when recovery is disabled.
 */
export function startPosition(
  checkpoint: Checkpoint | undefined,
  opts: { startFrom: string | undefined; recover: boolean; now: Date },
): { from: string | undefined; recover: string | undefined } {
  if (opts.startFrom !== undefined && checkpoint?.startFrom !== opts.startFrom) return { from: opts.startFrom, recover: undefined };
  if (checkpoint) return { from: checkpoint.lastEventId, recover: checkpoint.recoverUntil };
  if (opts.recover) return { from: '0-0', recover: opts.now.toISOString() };
  return { from: undefined, recover: undefined };
}
