// The Defender-facing core of the writer: configuration, policy, claims, planning, and the client.
import type { Logger, Registry } from '@octi-defender/platform';
import type { WriterConfig } from './config.ts';
import { DefenderClient } from './defender/client.ts';
import { DefenderMetrics } from './defender/metrics.ts';
import type { Clock } from './defender/quota.ts';
import { TokenProvider, type TokenSource } from './defender/token.ts';

export * from './config.ts';
export * from './core/policy.ts';
export * from './core/claims.ts';
export * from './core/desired.ts';
export * from './state/cap.ts';
export * from './core/plan.ts';
export type * from './core/facts.ts';
export * from './defender/model.ts';
export * from './defender/errors.ts';
export * from './defender/quota.ts';
export * from './defender/metrics.ts';
export * from './defender/token.ts';
export * from './defender/client.ts';
export * from './metrics.ts';
export * from './core/drift.ts';
export * from './defender/foreign.ts';
export * from './defender/values.ts';
export * from './writer.ts';

/** The client as configured: one token provider, the tenant quotas scaled by `share`. */
export function createDefenderClient(c: WriterConfig, deps: { logger: Logger; registry: Registry; share?: number; tokens?: TokenSource; clock?: Clock }): DefenderClient {
  return new DefenderClient({
    baseUrl: c.baseUrl,
    application: c.application,
    tokens: deps.tokens ?? new TokenProvider(c),
    logger: deps.logger,
    metrics: new DefenderMetrics(deps.registry),
    dryRun: c.dryRun,
    share: deps.share ?? 1,
    ...(deps.clock && { clock: deps.clock }),
    quotas: {
      import: [{ limit: c.importPerMinute, windowMs: 60_000 }],
      batchDelete: [
        { limit: c.batchDeletePerMinute, windowMs: 60_000 },
        { limit: c.batchDeletePerHour, windowMs: 3_600_000 },
      ],
      list: [
        { limit: c.listPerMinute, windowMs: 60_000 },
        { limit: c.listPerHour, windowMs: 3_600_000 },
      ],
    },
    connectTimeoutMs: c.connectTimeoutMs,
    requestTimeoutMs: c.requestTimeoutMs,
    maxRetries: c.maxRetries,
    retryBaseMs: c.retryBaseMs,
    retryMaxMs: c.retryMaxMs,
    breaker: {
      errorThresholdPercentage: c.breakerErrorPercent,
      volumeThreshold: c.breakerVolumeThreshold,
      rollingCountTimeout: c.breakerWindowMs,
      resetTimeout: c.breakerResetMs,
      consecutiveFailures: c.breakerConsecutiveFailures,
    },
  });
}
export { WriterControl, type Reconcilable } from './control.ts';
export { decodeState } from './core/state-codec.ts';
