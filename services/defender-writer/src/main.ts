// Entry point: configuration → logger (secrets scrubbed), metrics, Kafka → writer → probes; graceful
// shutdown on SIGTERM (stop probes, finish the batch and its transaction, leave the group, close).
import { connectKafka, kafkaStatusSink, unreachableKafka } from '@octi-defender/kafka';
import { createLogger, createRegistry, HealthServer, instanceIdentity, loadConfigOrExit, logProgress, metricTotal, secretValues, serve, startStatusPublisher } from '@octi-defender/platform';
import { loadWriterConfig, writerEnv } from './config.ts';
import { WriterControl } from './control.ts';
import { TokenProvider } from './defender/token.ts';
import { createDefenderClient } from './defender/create-client.ts';
import { createWriterMetrics, WRITER_STATUS_METRICS } from './metrics.ts';
import { Writer } from './writer.ts';

const cfg = loadConfigOrExit('defender-writer', () => loadWriterConfig());

// Unique per process (host name, pid, random): writers sharing a host name stay distinguishable.
const instance = instanceIdentity();
const logger = createLogger({ name: 'defender-writer', level: cfg.logLevel, secrets: secretValues(writerEnv) }).child({ instance });
const registry = createRegistry({ prefix: 'octi_writer' });
const metrics = createWriterMetrics(registry);
const kafka = connectKafka(cfg, `defender-writer-${instance}`, logger.child({ component: 'kafka' }));
const tokens = new TokenProvider(cfg);
const client = createDefenderClient(cfg, { logger: logger.child({ component: 'defender' }), registry, tokens });
const writer = new Writer(cfg, { kafka, client, tokens, logger: logger.child({ component: 'writer' }), metrics, instanceId: instance });
// Operator requests (octi-defender reconcile) from the control topic.
const control = new WriterControl(cfg, { kafka, writer, logger: logger.child({ component: 'control' }), instance });
// Liveness never depends on Defender: an open breaker pauses consumption, it does not need a restart.
const health = new HealthServer({ port: cfg.httpPort, registry })
  .liveness('process', () => writer.live())
  .readiness('writer', () => writer.ready());

// Totals since start: commands applied, indicators imported and deleted, what it holds, its lag.
const stopProgress = logProgress(logger, async () => ({
  applied: await metricTotal(registry, 'octi_writer_commands_total'),
  imported: await metricTotal(registry, 'defender_api_items_total', { endpoint: 'import', outcome: 'accepted' }),
  deleted: await metricTotal(registry, 'defender_api_items_total', { endpoint: 'batchDelete', outcome: 'deleted' }),
  held: await metricTotal(registry, 'octi_writer_owned_indicators'),
  deadLetters: await metricTotal(registry, 'octi_writer_dead_letters_total'),
  lag: await metricTotal(registry, 'octi_writer_consumer_lag'),
}));

// A status snapshot on the status topic for `octi-defender status`, from the first second on.
const status = startStatusPublisher({
  registry,
  service: 'defender-writer',
  instance,
  metrics: WRITER_STATUS_METRICS,
  intervalMs: cfg.statusIntervalMs,
  logger,
  info: { tenant: cfg.tenantName, group: cfg.consumerGroup, commandsTopic: cfg.commandsTopic, dlqTopic: cfg.dlqTopic },
  sink: kafkaStatusSink(kafka),
});

await serve({
  logger,
  health,
  shutdownTimeoutMs: cfg.shutdownTimeoutMs,
  stopProgress,
  steps: [
    { name: 'control', run: () => control.close() },
    { name: 'writer', run: () => writer.close() },
    { name: 'status', run: () => status.stop() },
    { name: 'defender client', run: () => client.close() },
    { name: 'kafka', run: () => kafka.close() },
  ],
  start: async () => {
    await writer.start();
    await control.start();
  },
  startFailure: (err) => unreachableKafka(err, cfg) ?? 'defender-writer could not start',
});
