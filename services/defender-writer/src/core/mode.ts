// How a batch reaches Defender: one decision from what the writer knows at the batch's turn.

/**
 * `defer`: catching up with a backlog, the state only (the sync at its end finds the keys). `join`:
 * another batch waits for the lock (the batches of one fetch are delivered together): this one waits,
 * uncommitted, and the last one applies all of them in one plan, its calls in full chunks across
 * partitions, then commits each partition. `fold`: the quota would make the call wait: the commands
 * are committed to the state only and their keys join the pending ones, which the call made once the
 * quota allows carries. `send`: the plan (with every pending key) is sent now.
 */
export type Mode = 'send' | 'join' | 'fold' | 'defer';

export interface ModeInput {
  readonly catchingUp: boolean;
  /** Batches waiting for the lock behind this one. */
  readonly waitingBatches: number;
  /** Rounds failed since the last success. */
  readonly failures: number;
  readonly breakerClosed: boolean;
  /** A Retry-After still running. */
  readonly throttledForMs: number;
  /** How long the next import or BatchDelete would wait for the quota. */
  readonly quotaWaitMs: number;
}

/**
 * Deferred while catching up; joined while another batch waits for the lock; folded while the quota
 * would hold the call back (Defender's limit is in calls, not items: the call made when the quota
 * allows carries every key folded meanwhile). Never folded after a failure or over a Retry-After:
 * the send meets it and the writer pauses with nothing committed (folding would commit a whole
 * outage's commands with nothing sent).
 */
export function chooseMode(i: ModeInput): Mode {
  if (i.catchingUp) return 'defer';
  if (i.waitingBatches > 0) return 'join';
  if (i.failures > 0 || !i.breakerClosed || i.throttledForMs > 0) return 'send';
  return i.quotaWaitMs > 0 ? 'fold' : 'send';
}
