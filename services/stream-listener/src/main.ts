// Entry point: configuration → logger, metrics, probes → listener; graceful shutdown on SIGTERM.
import { connectKafka, unreachableKafka } from '@octi-defender/kafka';
import { createLogger, createRegistry, HealthServer, loadConfigOrExit, logProgress, metricTotal, secretValues, serve } from '@octi-defender/platform';
import { listenerEnv, loadListenerConfig } from './config.ts';
import { Listener } from './listener.ts';
import { createListenerMetrics } from './metrics.ts';

const cfg = loadConfigOrExit('stream-listener', () => loadListenerConfig());

const logger = createLogger({ name: 'stream-listener', level: cfg.logLevel, secrets: secretValues(listenerEnv) });
const registry = createRegistry({ prefix: 'octi_listener' });
const metrics = createListenerMetrics(registry);
const kafka = connectKafka(cfg, 'stream-listener', logger.child({ component: 'kafka' }));
const listener = new Listener(cfg, { kafka, logger: logger.child({ component: 'listener' }), metrics });
const health = new HealthServer({ port: cfg.httpPort, registry })
  .liveness('process', () => listener.role !== 'closed')
  .readiness('listener', () => listener.ready());

// Totals since start: events read from OpenCTI, commands published, dead letters, events queued.
const stopProgress = logProgress(logger, async () => ({
  events: await metricTotal(registry, 'octi_listener_events_total'),
  published: await metricTotal(registry, 'octi_listener_commands_total'),
  deadLetters: await metricTotal(registry, 'octi_listener_dead_letters_total'),
  queued: await metricTotal(registry, 'octi_listener_queue_depth'),
}));

await serve({
  logger,
  health,
  shutdownTimeoutMs: cfg.shutdownTimeoutMs,
  stopProgress,
  steps: [
    { name: 'listener', run: () => listener.close() },
    { name: 'kafka', run: () => kafka.close() },
  ],
  start: () => listener.start(),
  startFailure: (err) => unreachableKafka(err, cfg) ?? 'stream-listener could not start',
});
