// The project's one exponential backoff: every retry loop (stream reconnections, Defender calls,
// Kafka admin requests, polls, supervised restarts) computes its pause here, so they differ only in
// their figures, never in the formula.

export interface BackoffOptions {
  /** The first pause (attempt 0), doubled at each attempt. */
  readonly baseMs: number;
  /** No pause exceeds this. */
  readonly maxMs: number;
  /**
   * `none`: the ceiling itself, min(maxMs, baseMs·2^attempt);
   * `full`: uniform in [0, ceiling] ("full jitter": clients failing together do not retry together);
   * `from-base`: uniform in [baseMs, ceiling], full jitter that never retries sooner than baseMs.
   */
  readonly jitter: 'none' | 'full' | 'from-base';
  /** Stops the doubling after this many attempts even below maxMs. */
  readonly maxDoublings?: number;
  /** [0, 1) source for the jitter; Math.random unless a test pins it. */
  readonly random?: () => number;
}

/** 2^1023 is the largest finite power of two: a zero base then stays zero instead of 0·∞ = NaN. */
const MAX_EXPONENT = 1023;

/** The pause before retry number `attempt` (0-based), in milliseconds (not rounded). */
export function backoffDelay(opts: BackoffOptions, attempt: number): number {
  if (!Number.isInteger(attempt) || attempt < 0) throw new RangeError(`backoff attempt must be an integer ≥ 0, got ${attempt}`);
  if (!(opts.baseMs >= 0) || !(opts.maxMs >= 0)) throw new RangeError(`backoff baseMs and maxMs must be ≥ 0, got ${opts.baseMs} and ${opts.maxMs}`);
  const ceiling = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, opts.maxDoublings ?? MAX_EXPONENT, MAX_EXPONENT));
  if (opts.jitter === 'none') return ceiling;
  const r = (opts.random ?? Math.random)();
  return opts.jitter === 'full' ? r * ceiling : opts.baseMs + r * (ceiling - opts.baseMs);
}
