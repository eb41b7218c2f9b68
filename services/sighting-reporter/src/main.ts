// Entry point: configuration → logger (secrets scrubbed), metrics, Kafka → reporter → probes; graceful
// shutdown on SIGTERM (stop probes, finish or abandon the poll uncommitted, close).
import { connectKafka, unreachableKafka } from '@octi-defender/kafka';
import { createLogger, createRegistry, HealthServer, loadConfigOrExit, logProgress, metricTotal, secretValues, serve } from '@octi-defender/platform';
import { loadReporterConfig, reporterEnv } from './config.ts';
import { ReporterMetrics } from './metrics.ts';
import { Reporter } from './reporter.ts';
import { createAdapters } from './wiring.ts';

const cfg = loadConfigOrExit('sighting-reporter', () => loadReporterConfig());

const logger = createLogger({ name: 'sighting-reporter', level: cfg.logLevel, secrets: secretValues(reporterEnv) }).child({ tenant: cfg.tenantName });
const registry = createRegistry({ prefix: 'octi_reporter' });
const metrics = new ReporterMetrics(registry);
const kafka = connectKafka(cfg, `sighting-reporter-${cfg.tenantName}`, logger.child({ component: 'kafka' }));
const adapters = createAdapters(cfg, { logger, registry });
const reporter = new Reporter(cfg, { kafka, alerts: adapters.alerts, owned: adapters.owned, opencti: adapters.opencti, logger: logger.child({ component: 'reporter' }), metrics });
// Liveness never depends on Defender or OpenCTI: an outage pauses polling, it does not need a restart.
const health = new HealthServer({ port: cfg.httpPort, registry })
  .liveness('process', () => reporter.live())
  .readiness('reporter', () => reporter.ready());

// Totals since start: alerts read and matched, sightings written, polls failed.
const stopProgress = logProgress(logger, async () => ({
  alerts: await metricTotal(registry, 'octi_reporter_alerts_total'),
  matched: await metricTotal(registry, 'octi_reporter_alerts_total', { outcome: 'matched' }),
  sightings: await metricTotal(registry, 'octi_reporter_sightings_written_total'),
  failedPolls: await metricTotal(registry, 'octi_reporter_polls_total', { outcome: 'failed' }),
}));

await serve({
  logger,
  health,
  shutdownTimeoutMs: cfg.shutdownTimeoutMs,
  stopProgress,
  steps: [
    { name: 'reporter', run: () => reporter.close() },
    { name: 'clients', run: () => adapters.close() },
    { name: 'kafka', run: () => kafka.close() },
  ],
  start: () => reporter.start(),
  startFailure: (err) => unreachableKafka(err, cfg) ?? 'sighting-reporter could not start',
});
