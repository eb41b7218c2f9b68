// Entry point: configuration → logger, metrics, probes → listener; graceful shutdown on SIGTERM.
import { connectKafka, kafkaStatusSink, unreachableKafka } from '@octi-defender/kafka';
import { createLogger, createRegistry, HealthServer, instanceIdentity, loadConfigOrExit, logProgress, metricTotal, secretValues, serve, startStatusPublisher } from '@octi-defender/platform';
import { readFileSync } from 'node:fs';
import { listenerEnv, loadListenerConfig } from './config.ts';
import { ConnectorPresence } from './connector.ts';
import { ListenerControl } from './control.ts';
import { Listener } from './listener.ts';
import { createListenerMetrics, LISTENER_STATUS_METRICS } from './metrics.ts';

const cfg = loadConfigOrExit('stream-listener', () => loadListenerConfig());

const logger = createLogger({ name: 'stream-listener', level: cfg.logLevel, secrets: secretValues(listenerEnv) });
const registry = createRegistry({ prefix: 'octi_listener' });
const metrics = createListenerMetrics(registry);
const kafka = connectKafka(cfg, 'stream-listener', logger.child({ component: 'kafka' }));
const listener = new Listener(cfg, { kafka, logger: logger.child({ component: 'listener' }), metrics });
// This process among the replicas (control answers, status snapshots): unique even on one host name.
const instance = instanceIdentity();
// Operator requests (octi-defender resync / replay) from the control topic.
const control = new ListenerControl(cfg, { kafka, listener, logger: logger.child({ component: 'control' }), metrics, instance });
// Registered in OpenCTI as a stream connector when CONNECTOR_ID is set.
const connectorId = cfg.connectorId;
const presence = connectorId === undefined
  ? undefined
  : new ConnectorPresence({ ...cfg, connectorId }, {
    listener,
    logger: logger.child({ component: 'connector' }),
    metrics,
    ...(cfg.openctiCaFile ? { ca: readFileSync(cfg.openctiCaFile, 'utf8') } : {}),
  });
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

// A status snapshot on the status topic for `octi-defender status` (active or standby, streams' freshness).
const status = startStatusPublisher({
  registry,
  service: 'stream-listener',
  instance,
  metrics: LISTENER_STATUS_METRICS,
  intervalMs: cfg.statusIntervalMs,
  logger,
  info: { group: cfg.groupId, streams: cfg.streamIds.join(','), checkpointsTopic: cfg.checkpointsTopic, dlqTopic: cfg.dlqTopic },
  sink: kafkaStatusSink(kafka),
});

await serve({
  logger,
  health,
  shutdownTimeoutMs: cfg.shutdownTimeoutMs,
  stopProgress,
  steps: [
    { name: 'connector', run: async () => presence?.close() },
    { name: 'control', run: () => control.close() },
    { name: 'listener', run: () => listener.close() },
    { name: 'status', run: () => status.stop() },
    { name: 'kafka', run: () => kafka.close() },
  ],
  start: async () => {
    await listener.start();
    await control.start();
    presence?.start();
  },
  startFailure: (err) => unreachableKafka(err, cfg) ?? 'stream-listener could not start',
});
