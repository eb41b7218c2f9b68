// Per-application, per-endpoint quotas: sliding windows in emulated time; over one → 429 Retry-After.
import { isRecord } from '@octi-defender/indicators';
import type { Endpoint } from './endpoints.ts';

export interface RateLimit {
  limit: number;
  windowMs: number;
}

/** Documented per-endpoint limits (research/defender-api.md §2). */
export const DEFAULT_RATE_LIMITS: Record<Exclude<Endpoint, 'token'>, RateLimit[]> = {
  list: [{ limit: 100, windowMs: 60_000 }, { limit: 1500, windowMs: 3_600_000 }],
  submit: [{ limit: 100, windowMs: 60_000 }, { limit: 1500, windowMs: 3_600_000 }],
  import: [{ limit: 30, windowMs: 60_000 }],
  delete: [{ limit: 100, windowMs: 60_000 }, { limit: 1500, windowMs: 3_600_000 }],
  batchDelete: [{ limit: 30, windowMs: 60_000 }, { limit: 1500, windowMs: 3_600_000 }],
  /** List alerts API page: 100 calls per minute and 1,500 per hour. */
  alerts: [{ limit: 100, windowMs: 60_000 }, { limit: 1500, windowMs: 3_600_000 }],
};

export type RateLimitOptions = boolean | Partial<Record<Exclude<Endpoint, 'token'>, RateLimit[]>>;

export class RateLimiter {
  /** Off: every call passes (throughput benchmarks). */
  enabled: boolean;
  readonly #limits: Partial<Record<Endpoint, RateLimit[]>>;
  readonly #timeScale: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, number[]>();

  /** `options`: false disables every limit; an object overrides per endpoint. `timeScale` turns waits into real seconds. */
  constructor(options: RateLimitOptions | undefined, timeScale: number, now: () => number) {
    this.enabled = options !== false;
    this.#limits = { ...DEFAULT_RATE_LIMITS, ...(isRecord(options) ? options : {}) };
    this.#timeScale = timeScale;
    this.#now = now;
  }

  /** Counts a call of `clientId` to `endpoint`; when over a limit counts nothing and returns the Retry-After seconds. */
  check(endpoint: Endpoint, clientId: string): number | undefined {
    const rules = this.enabled ? this.#limits[endpoint] : undefined;
    if (!rules || rules.length === 0) return undefined;
    const key = `${clientId}|${endpoint}`;
    const t = this.#now();
    const longest = Math.max(...rules.map((r) => r.windowMs));
    const calls = (this.#windows.get(key) ?? []).filter((c) => c > t - longest);
    this.#windows.set(key, calls);
    let waitMs = 0;
    for (const rule of rules) {
      const inWindow = calls.filter((c) => c > t - rule.windowMs);
      if (inWindow.length >= rule.limit) waitMs = Math.max(waitMs, inWindow[inWindow.length - rule.limit]! + rule.windowMs - t);
    }
    if (waitMs > 0) return Math.max(1, Math.ceil(waitMs / this.#timeScale / 1000));
    calls.push(t);
    return undefined;
  }

  /** Forgets every window (the switch stays as it is). */
  clear(): void {
    this.#windows.clear();
  }
}
