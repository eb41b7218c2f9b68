// The Defender client as the writer's configuration describes it (the writer, the command line's
// check and the tests build it here).
import type { Logger, Registry } from '@octi-defender/platform';
import type { WriterConfig } from '../config.ts';
import { DefenderClient } from './client.ts';
import { DefenderMetrics } from './metrics.ts';
import type { Clock } from './quota.ts';
import { TokenProvider, type TokenSource } from './token.ts';

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
