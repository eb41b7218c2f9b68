// Client-side token buckets for Defender's per-endpoint quotas. The quotas belong to the tenant, so
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

class Bucket {
  readonly #quota: Quota;
  #capacity = 1;
  #perMs = 0;
  #tokens = 1;
  #last: number;

  constructor(quota: Quota, share: number, now: number) {
    this.#quota = quota;
    this.#last = now;
    this.setShare(share);
    this.#tokens = this.#capacity;
  }

  setShare(share: number): void {
    const old = this.#capacity;
    const allowed = this.#quota.limit * share;
    // A share below one call per window still gets one call, spaced by the refill rate.
    this.#capacity = Math.max(1, allowed);
    this.#perMs = allowed / this.#quota.windowMs;
    this.#tokens = Math.min(this.#capacity, this.#tokens * (this.#capacity / old));
  }

  #refill(now: number): void {
    this.#tokens = Math.min(this.#capacity, this.#tokens + (now - this.#last) * this.#perMs);
    this.#last = now;
  }

  /** Milliseconds until one token is available. */
  waitMs(now: number): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : (1 - this.#tokens) / this.#perMs;
  }

  take(): void {
    this.#tokens -= 1;
  }
}

export class QuotaLimiter {
  readonly #clock: Clock;
  readonly #buckets: Record<Endpoint, Bucket[]>;
  readonly #queues: Record<Endpoint, Promise<unknown>> = { import: Promise.resolve(), batchDelete: Promise.resolve(), list: Promise.resolve() };
  #share: number;

  constructor(quotas: Quotas, share: number, clock: Clock = systemClock) {
    QuotaLimiter.check(share);
    this.#clock = clock;
    this.#share = share;
    const now = clock.now();
    const make = (qs: readonly Quota[]) => qs.map((q) => new Bucket(q, share, now));
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
      for (const b of this.#buckets[endpoint]) b.take();
      return this.#clock.now() - start;
    });
    this.#queues[endpoint] = turn;
    return turn;
  }
}
