// Listener throughput: the OpenCTI emulator's load mode emits N creates as fast as they are read;
// the listener normalizes them and publishes commands + checkpoints to a real Kafka broker
// (KAFKA_BROKERS, provided by `npm run bench`). Prints events/s, commands/s and peak RSS.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { startOpenCtiEmulator } from '@octi-defender/emulators';
import { createKafka } from '@octi-defender/kafka';
import { requireBrokers } from '@octi-defender/kafka/testing';
import { createLogger, createRegistry } from '@octi-defender/platform';
import { loadListenerConfig } from '../src/config.ts';
import { Listener } from '../src/listener.ts';
import { createListenerMetrics } from '../src/metrics.ts';

const N = Number(process.env.BENCH_EVENTS ?? 50_000);
const STREAM = 'bench-stream';
const TOKEN = 'bench-token-0123456789';

const octi = await startOpenCtiEmulator({ port: 0, host: '127.0.0.1', token: TOKEN, streams: [{ id: STREAM, load: { count: N } }], heartbeatMs: 1000 });
const s = randomUUID().slice(0, 8);
const cfg = loadListenerConfig({
  KAFKA_BROKERS: requireBrokers().join(','),
  OPENCTI_URL: octi.url,
  OPENCTI_TOKEN: TOKEN,
  CONNECTOR_LIVE_STREAM_ID: STREAM,
  CONNECTOR_LIVE_STREAM_START_FROM: '0',
  KAFKA_TOPIC_COMMANDS: `bench-${s}.indicators`,
  KAFKA_TOPIC_CHECKPOINTS: `bench-${s}.checkpoints`,
  KAFKA_TOPIC_DLQ: `bench-${s}.dlq`,
  LISTENER_GROUP_ID: `bench-${s}`,
  LISTENER_LEASE_TIMEOUT_MS: '6000',
});
const logger = createLogger({ name: 'bench', level: 'warn', destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const metrics = createListenerMetrics(createRegistry({ prefix: 'bench' }));
const kafka = createKafka({ brokers: cfg.kafkaBrokers, clientId: 'bench' });
const listener = new Listener(cfg, { kafka, logger, metrics });

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
const count = async (): Promise<number> => (await metrics.events.get()).values.filter((v) => v.labels.event === 'create').reduce((a, v) => a + v.value, 0);
const commands = async (): Promise<number> => (await metrics.commands.get()).values.reduce((a, v) => a + v.value, 0);

await listener.start();
while (listener.role !== 'active') await new Promise((r) => setTimeout(r, 20));
const t0 = performance.now();
while ((await count()) < N) await new Promise((r) => setTimeout(r, 20));
const secs = (performance.now() - t0) / 1000;
const cmds = await commands();
clearInterval(sampler);
process.stdout.write(
  `stream-listener: ${N} events in ${secs.toFixed(2)} s = ${Math.round(N / secs).toLocaleString('en-US')} events/s, ` +
    `${Math.round(cmds / secs).toLocaleString('en-US')} commands/s published (in Kafka transactions), peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MB\n`,
);
await listener.close();
await kafka.close();
await octi.close();
