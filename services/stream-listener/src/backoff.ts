// The listener's reconnection policy on the shared backoff (@octi-defender/platform): jitter drawn
// from [minMs, ceiling] spreads reconnecting listeners over the window without ever retrying sooner
// than minMs, and whole milliseconds keep the logged delays readable.
import { backoffDelay as sharedBackoffDelay } from '@octi-defender/platform';

export interface BackoffPolicy {
  readonly minMs: number;
  readonly maxMs: number;
}

/** Delay before retry number `attempt` (0-based), drawn uniformly from [minMs, min(maxMs, minMs·2^attempt)]. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  return Math.round(sharedBackoffDelay({ baseMs: policy.minMs, maxMs: policy.maxMs, jitter: 'from-base', random }, attempt));
}
