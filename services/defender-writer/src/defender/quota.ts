// Client-side sliding windows for Defender's per-endpoint quotas. The quotas belong to the tenant, so
// each writer takes `share` of them (its partitions / all partitions); the share changes on rebalance.
// 429 with Retry-After remains the backstop when the shares are momentarily wrong.

export type Endpoint = 'import' | 'batchDelete' | 'list';

export interface Quota {
  readonly limit: number;
  readonly windowMs: number;
}

export type Quotas = Readonly<Record<Endpoint, readonly Quota[]>>;

/** The documented limits (research/defender-api.md §2). Import has no documented hourly limit. */
export const DEFENDER_QUOTAS: Quotas = {
  import: [{ limit: 30, windowMs: 60_000 }],
  batchDelete: [
    { limit: 30, windowMs: 60_000 },
    { limit: 1500, windowMs: 3_600_000 },
  ],
  list: [
    { limit: 100, windowMs: 60_000 },
    { limit: 1500, windowMs: 3_600_000 },
  ],
};

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * A call counts against a window for this much longer than the window itself, so that the jitter
 * between our clock and the moment Defender sees the request cannot push one call too many into it.
 */
export const WINDOW_GUARD = 0.01;

/**
 * A sliding window (Defender counts calls in sliding windows): at most ⌊limit × share⌋ calls in any
 * `windowMs`. A token bucket whose capacity is the limit is not enough: it allows a full bucket plus a
 * window's refill, up to twice the limit, in one window. Below one call per window, one call every
 * windowMs / (limit × share).
 */
class SlidingWindow {
  readonly #quota: Quota;
  #allowed = 1;
  /** Times of the recent calls, oldest first. */
  readonly #times: number[] = [];

  constructor(quota: Quota, share: number) {
    this.#quota = quota;
    this.setShare(share);
  }

  setShare(share: number): void {
    this.#allowed = this.#quota.limit * share;
  }

  /** Milliseconds until a call is allowed. */
  waitMs(now: number): number {
    const span = this.#quota.windowMs * (1 + WINDOW_GUARD);
    if (this.#allowed < 1) {
      const last = this.#times.at(-1);
      return last === undefined ? 0 : Math.max(0, last + span / this.#allowed - now);
    }
    while (this.#times.length > 0 && (this.#times[0] ?? 0) <= now - span) this.#times.shift();
    const n = Math.floor(this.#allowed);
    if (this.#times.length < n) return 0;
    return Math.max(0, (this.#times[this.#times.length - n] ?? 0) + span - now);
  }

  take(now: number): void {
    this.#times.push(now);
    // A share never allows more than the limit, so older calls cannot matter.
    if (this.#times.length > Math.max(1, this.#quota.limit)) this.#times.shift();
  }
}

export class QuotaLimiter {
  readonly #clock: Clock;
  readonly #buckets: Record<Endpoint, SlidingWindow[]>;
  readonly #queues: Record<Endpoint, Promise<unknown>> = { import: Promise.resolve(), batchDelete: Promise.resolve(), list: Promise.resolve() };
  #share: number;

  constructor(quotas: Quotas, share: number, clock: Clock = systemClock) {
    QuotaLimiter.check(share);
    this.#clock = clock;
    this.#share = share;
    const make = (qs: readonly Quota[]) => qs.map((q) => new SlidingWindow(q, share));
    this.#buckets = { import: make(quotas.import), batchDelete: make(quotas.batchDelete), list: make(quotas.list) };
  }

  static check(share: number): void {
    if (!(share > 0 && share <= 1)) throw new RangeError(`share must be in (0, 1], got ${share}`);
  }

  get share(): number {
    return this.#share;
  }

  setShare(share: number): void {
    QuotaLimiter.check(share);
    this.#share = share;
    for (const bs of Object.values(this.#buckets)) for (const b of bs) b.setShare(share);
  }

  /** Waits (FIFO per endpoint) until every window of the endpoint allows a call; returns the ms waited. */
  acquire(endpoint: Endpoint): Promise<number> {
    const start = this.#clock.now();
    const turn = this.#queues[endpoint].then(async () => {
      for (;;) {
        const now = this.#clock.now();
        const wait = Math.max(0, ...this.#buckets[endpoint].map((b) => b.waitMs(now)));
        if (wait <= 0) break;
        await this.#clock.sleep(Math.ceil(wait));
      }
      const at = this.#clock.now();
      for (const b of this.#buckets[endpoint]) b.take(at);
      return this.#clock.now() - start;
    });
    this.#queues[endpoint] = turn;
    return turn;
  }
}
