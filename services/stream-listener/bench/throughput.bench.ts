// Listener throughput and memory: the OpenCTI emulator's load mode (its own process, the CLI) emits N
// creates as fast as they are read; the production entry point (main.ts, a child process) normalizes
// them and publishes commands + checkpoints in Kafka transactions to a real broker (KAFKA_BROKERS,
// from `npm run bench`). What counts is what a read_committed consumer sees, not what was read.
// Figures: events/s and commands/s (from the listener's activation to the last committed command),
// CPU seconds per 100k events and peak RSS (VmHWM) of the listener process alone.
// BENCH_LISTENER_EVENTS sets N (quick 20,000; full 1,000,000: the memory-under-backlog figure too).
// The listener runs with the runtime settings its Kubernetes deployment sets (NODE_OPTIONS, read from
// the manifest so that the two cannot drift).
import { randomUUID } from 'node:crypto';
import { freePort, requireBrokers } from '@octi-defender/kafka/testing';
import { countCommitted, deployedRuntime, figure, procStats, scrape, serviceNodeArgs, size, startService, waitFor } from '../../../bench/lib.ts';

const N = size('BENCH_LISTENER_EVENTS', 20_000, 1_000_000);

const runtime = deployedRuntime('base/stream-listener');
if (!runtime.NODE_OPTIONS?.includes('--max-old-space-size=')) throw new Error('the stream-listener deployment sets no NODE_OPTIONS=--max-old-space-size=…');
const TOKEN = 'bench-token-0123456789';
const brokers = requireBrokers();
const s = randomUUID().slice(0, 8);
const topics = { commands: `bench-${s}.indicators`, checkpoints: `bench-${s}.checkpoints`, dlq: `bench-${s}.dlq` };

const octiPort = await freePort();
const emulator = startService(new URL('../../../libs/emulators/src/bin/opencti.ts', import.meta.url).pathname, {}, {
  args: ['--port', String(octiPort), '--token', TOKEN, '--load', String(N), '--heartbeat-ms', '1000'],
});
await waitFor('OpenCTI emulator listening', async () => (await fetch(`http://127.0.0.1:${octiPort}/_emulator/state`).then((r) => r.ok, () => false)), 60_000, emulator);

const metricsPort = await freePort();
const listener = startService(
  new URL('../src/main.ts', import.meta.url).pathname,
  {
    ...runtime,
    KAFKA_BROKERS: brokers.join(','),
    HTTP_PORT: String(metricsPort),
    CONNECTOR_LOG_LEVEL: 'warn',
    OPENCTI_URL: `http://127.0.0.1:${octiPort}`,
    OPENCTI_TOKEN: TOKEN,
    CONNECTOR_LIVE_STREAM_ID: 'load',
    CONNECTOR_LIVE_STREAM_START_FROM: '0',
    KAFKA_TOPIC_COMMANDS: topics.commands,
    KAFKA_TOPIC_CHECKPOINTS: topics.checkpoints,
    KAFKA_TOPIC_DLQ: topics.dlq,
    LISTENER_GROUP_ID: `bench-${s}`,
    LISTENER_LEASE_TIMEOUT_MS: '6000',
  },
  { nodeArgs: serviceNodeArgs('stream-listener') },
);
await waitFor('listener active', async () => (await scrape(metricsPort)).get('octi_listener_active') === 1, 120_000, listener, 50);
const t0 = performance.now();
const { cpuSec: cpu0, rssMb: rss0 } = procStats(listener.pid);
const committed = await countCommitted(brokers, topics.commands);

let m = new Map<string, number>();
let peakHeap = 0;
let peakExternal = 0;
await waitFor(
  'every event read',
  async () => {
    m = await scrape(metricsPort);
    peakHeap = Math.max(peakHeap, m.get('octi_listener_nodejs_heap_size_used_bytes') ?? 0);
    peakExternal = Math.max(peakExternal, m.get('octi_listener_nodejs_external_memory_bytes') ?? 0);
    return (m.get('octi_listener_events_total') ?? 0) >= N;
  },
  3_600_000,
  listener,
  250,
);
const commands = m.get('octi_listener_commands_total') ?? 0;
await waitFor('every command committed', () => committed.count() >= commands, 600_000, listener, 100);
const secs = (committed.lastAt() - t0) / 1000;
const end = procStats(listener.pid);
await committed.close();
const code = await listener.stop();
await emulator.stop();
if (code !== 0) throw new Error(`listener exited with ${code}`);

// What bounds the rate: one transaction in flight at a time (the next round is normalized meanwhile).
const txns = m.get('octi_listener_publish_seconds_count') ?? 0;
const perTxn = (m.get('octi_listener_publish_batch_events_sum') ?? 0) / Math.max(1, m.get('octi_listener_publish_batch_events_count') ?? 0);
const txnMs = (1000 * (m.get('octi_listener_publish_seconds_sum') ?? 0)) / Math.max(1, txns);
const note = `${N.toLocaleString('en-US')} load-mode creates, ${commands.toLocaleString('en-US')} commands committed, from activation to the last committed command; ` +
  `${txns.toLocaleString('en-US')} transactions of ${perTxn.toFixed(0)} events on average, ${txnMs.toFixed(0)} ms each`;
figure({ section: 'listener', name: 'events/s', value: N / secs, unit: 'events/s', note });
figure({ section: 'listener', name: 'commands/s (committed)', value: commands / secs, unit: 'commands/s', note });
figure({ section: 'listener', name: 'CPU per 100k events', value: ((end.cpuSec - cpu0) * 100_000) / N, unit: 'CPU s', note: 'listener process, user + system' });
figure({
  section: 'memory',
  name: 'listener peak RSS',
  value: end.peakRssMb,
  unit: 'MiB',
  target: '≤ 256',
  met: end.peakRssMb <= 256,
  note: `VmHWM of the listener process draining ${N.toLocaleString('en-US')} events; ${Object.entries(runtime).map(([k, v]) => `${k}=${v}`).join(' ')} (as deployed); RSS ${
    rss0.toFixed(0)
  } MiB at activation; sampled peaks: heap used ${(peakHeap / 2 ** 20).toFixed(0)} MiB, external ${(peakExternal / 2 ** 20).toFixed(0)} MiB`,
});
