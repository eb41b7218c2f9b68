// The reporter's adapters as configured: one Entra token provider (the writer's), the alerts client
// inside the alerts quota, the writer's Defender client for listing our indicators (inside the
// reporter's share of the list quota), and the OpenCTI client.
import { DefenderClient } from '@octi-defender/defender-writer/defender/client';
import { DefenderMetrics } from '@octi-defender/defender-writer/defender/metrics';
import { TokenProvider, type TokenSource } from '@octi-defender/defender-writer/defender/token';
import type { Logger, Registry } from '@octi-defender/platform';
import { DefenderAlertsClient } from './alerts-client.ts';
import type { ReporterConfig } from './config.ts';
import { OpenCtiClient } from './opencti.ts';
import { DefenderOwnedSource } from './owned.ts';

export interface ReporterAdapters {
  readonly alerts: DefenderAlertsClient;
  readonly owned: DefenderOwnedSource;
  readonly opencti: OpenCtiClient;
  close(): Promise<void>;
}

export function createAdapters(c: ReporterConfig, deps: { logger: Logger; registry: Registry; tokens?: TokenSource }): ReporterAdapters {
  const tokens = deps.tokens ?? new TokenProvider(c);
  const metrics = new DefenderMetrics(deps.registry);
  const defender = new DefenderClient({
    baseUrl: c.baseUrl,
    application: 'sighting-reporter',
    tokens,
    logger: deps.logger.child({ component: 'defender' }),
    metrics,
    share: c.listShare,
    quotas: {
      import: [{ limit: 1, windowMs: 60_000 }],
      batchDelete: [{ limit: 1, windowMs: 60_000 }],
      list: [
        { limit: 100, windowMs: 60_000 },
        { limit: 1500, windowMs: 3_600_000 },
      ],
    },
    requestTimeoutMs: c.requestTimeoutMs,
    retryMaxMs: c.retryMaxMs,
  });
  const alerts = new DefenderAlertsClient({ baseUrl: c.baseUrl, tokens, perMinute: c.alertsPerMinute, perHour: c.alertsPerHour, pageSize: c.pageSize, timeoutMs: c.requestTimeoutMs, metrics });
  const opencti = new OpenCtiClient({ url: c.openctiUrl, token: c.openctiToken, sslVerify: c.openctiSslVerify, caFile: c.openctiCaFile, timeoutMs: c.requestTimeoutMs });
  return {
    alerts,
    owned: new DefenderOwnedSource(defender, c.clientId),
    opencti,
    close: async () => {
      await Promise.all([defender.close(), alerts.close(), opencti.close()]);
    },
  };
}
