// Client-side sliding windows for Defender's per-endpoint quotas. The quotas belong to the tenant, so
// each writer takes `share` of them (its partitions / all partitions); the share changes on rebalance.
// 429 with Retry-After remains the backstop when the shares are momentarily wrong.

export type Endpoint = 'import' | 'batchDelete' | 'list';

interface Quota {
  readonly limit: number;
  readonly windowMs: number;
}

export type Quotas = Readonly<Record<Endpoint, readonly Quota[]>>;

/** The documented limits (the README, Defender client, "Quotas"). Import has no documented hourly limit. */
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
  /**
   * Resolves after `ms`. When `signal` aborts first it should reject with `signal.reason` and drop
   * its timer; callers do not rely on it (they race the sleep against the signal), but a timer left
   * running keeps the process alive until it fires.
   */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason as Error);
        return;
      }
      const onAbort = (): void => {
        clearTimeout(timer);
        reject(signal?.reason as Error);
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/**
 * `promise`, or a rejection with `signal.reason` as soon as `signal` aborts, whichever comes first
 * (the promise keeps running; its outcome is then ignored). Without a signal, `promise` itself.
 */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    const done = (): void => signal.removeEventListener('abort', onAbort);
    promise.then(done, done);
    promise.then(resolve, reject);
  });
}

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

  /** Milliseconds until the last call is one even spacing (window / allowed calls) old. */
  spacingWaitMs(now: number): number {
    const last = this.#times.at(-1);
    if (last === undefined) return 0;
    return Math.max(0, last + (this.#quota.windowMs * (1 + WINDOW_GUARD)) / this.#allowed - now);
  }

  take(now: number): void {
    this.#times.push(now);
    // A share never allows more than the limit, so older calls cannot matter.
    if (this.#times.length > Math.max(1, this.#quota.limit)) this.#times.shift();
  }
}

/**
 * Calls allowed at once before pacing applies. A sliding window alone lets a whole window's budget go
 * at once, then nothing until it slides: under sustained demand 30 imports went out in 15 s, then
 * none for 45 s, and a change waited up to a minute. A second window of PACE_BURST calls over
 * PACE_BURST / limit of the shortest window spreads the same budget evenly (an import every 2 s at
 * the documented 30/min), and a quiet endpoint still answers the first calls at once.
 */
export const PACE_BURST = 2;

/** The pacing window of an endpoint's shortest window (none when that limit is PACE_BURST or less). */
export function pacing(quotas: readonly Quota[]): Quota[] {
  const shortest = [...quotas].sort((a, b) => a.windowMs - b.windowMs)[0];
  if (!shortest || shortest.limit <= PACE_BURST) return [];
  return [{ limit: PACE_BURST, windowMs: (shortest.windowMs * PACE_BURST) / shortest.limit }];
}

/**
 * Sliding windows per endpoint. `E` names the endpoints: the indicators API's by default; another
 * Defender API (the alerts of sighting-reporter) passes its own.
 */
export class QuotaLimiter<E extends string = Endpoint> {
  readonly #clock: Clock;
  readonly #buckets: Record<E, SlidingWindow[]>;
  readonly #queues: Record<E, Promise<unknown>>;
  /** Clock time before which an endpoint takes no call (Defender's Retry-After). */
  readonly #blockedUntil: Record<E, number>;
  #share: number;

  constructor(quotas: Readonly<Record<E, readonly Quota[]>>, share: number, clock: Clock = systemClock) {
    QuotaLimiter.check(share);
    this.#clock = clock;
    this.#share = share;
    const make = (qs: readonly Quota[]) => [...qs, ...pacing(qs)].map((q) => new SlidingWindow(q, share));
    const endpoints = Object.keys(quotas) as E[];
    const per = <T>(f: (e: E) => T): Record<E, T> => Object.fromEntries(endpoints.map((e) => [e, f(e)])) as Record<E, T>;
    this.#buckets = per((e) => make(quotas[e]));
    this.#queues = per(() => Promise.resolve());
    this.#blockedUntil = per(() => 0);
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
    for (const bs of Object.values<SlidingWindow[]>(this.#buckets)) for (const b of bs) b.setShare(share);
  }

  /** No call to `endpoint` for `ms` from now (a Retry-After); a later block never shortens an earlier one. */
  blockFor(endpoint: E, ms: number): void {
    this.#blockedUntil[endpoint] = Math.max(this.#blockedUntil[endpoint], this.#clock.now() + ms);
  }

  /** Milliseconds before `endpoint` may be called again because of a Retry-After (0: not blocked). */
  blockedForMs(endpoint: E): number {
    return Math.max(0, this.#blockedUntil[endpoint] - this.#clock.now());
  }

  /**
   * Milliseconds before the endpoint's windows (quota and pacing) allow a call: 0 when one may go
   * now. `even`: also until the last call is one even spacing old in every window (the pace the
   * budget sustains; callers with sustained demand wait for it instead of spending the pacing's
   * burst, which would leave a gap of two spacings after it). A Retry-After is not counted
   * (`blockedForMs`).
   */
  readyInMs(endpoint: E, even = false): number {
    const now = this.#clock.now();
    return Math.max(0, ...this.#buckets[endpoint].map((b) => Math.max(b.waitMs(now), even ? b.spacingWaitMs(now) : 0)));
  }

  /**
   * Waits (FIFO per endpoint) until every window of the endpoint allows a call; returns the ms waited.
   * When `signal` aborts, rejects at once with its reason, takes no slot, and the callers queued
   * behind move up.
   */
  acquire(endpoint: E, signal?: AbortSignal): Promise<number> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const start = this.#clock.now();
    const turn = this.#queues[endpoint].then(async () => {
      for (;;) {
        signal?.throwIfAborted();
        const now = this.#clock.now();
        const wait = Math.max(this.#blockedUntil[endpoint] - now, ...this.#buckets[endpoint].map((b) => b.waitMs(now)));
        if (wait <= 0) break;
        await abortable(this.#clock.sleep(Math.ceil(wait), signal), signal);
      }
      const at = this.#clock.now();
      for (const b of this.#buckets[endpoint]) b.take(at);
      return this.#clock.now() - start;
    });
    // One caller's abort must not fail the callers queued behind it.
    this.#queues[endpoint] = turn.then(
      () => undefined,
      () => undefined,
    );
    return abortable(turn, signal);
  }
}
