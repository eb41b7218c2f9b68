// Exponential backoff with full jitter (AWS architecture blog's "full jitter"): spreads reconnecting
// listeners over the whole window so they do not hammer OpenCTI in lockstep.
export interface BackoffPolicy {
  readonly minMs: number;
  readonly maxMs: number;
}

/** Delay before retry number `attempt` (0-based), drawn uniformly from [minMs, min(maxMs, minMs·2^attempt)]. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.minMs * 2 ** Math.min(attempt, 30));
  return Math.round(policy.minMs + random() * (ceiling - policy.minMs));
}
