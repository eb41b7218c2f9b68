// Writer throughput and memory: N upserts of distinct keys (scores spread over 0–100, so the cap
// has to choose) wait in the commands topic of a real broker (KAFKA_BROKERS, from `npm run bench`);
// the production entry point (main.ts) runs as a child process against the Defender emulator with
// Defender's quotas off, and drains the backlog. Figures: commands/s, Defender calls against the
// minimum ceil(items / 500) per endpoint, the writer's CPU and peak RSS (VmHWM: its own process only,
// with the NODE_OPTIONS and MALLOC_* variables of deploy/k8s/writer/deployment.yaml, read from it).
// Whether memory stays flat: VmHWM once a fifth of the backlog is applied against the end's.
// BENCH_COMMANDS sets N (quick 20,000; full 1,000,000: the memory-under-backlog figure too).
import { randomUUID } from 'node:crypto';
import { startDefenderEmulator } from '@octi-defender/emulators';
import { createKafka } from '@octi-defender/kafka';
import { encodeCommand, type Command } from '@octi-defender/indicators';
import { freePort, requireBrokers } from '@octi-defender/kafka/testing';
import { deployedRuntime, figure, procStats, scrape, serviceNodeArgs, size, startService } from '../../../bench/lib.ts';

const N = size('BENCH_COMMANDS', 20_000, 1_000_000);
const PARTITIONS = 6;
const CAP = 15_000;
const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT_ID = '3f2b8c1e-6a4d-4e7b-9c2a-1d5e8f7a6b4c';
const SECRET = 'bench-secret-value';

const ipOf = (i: number): string => `${11 + ((i >> 24) & 63)}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

function command(i: number, at: number): Command {
  const value = ipOf(i);
  return {
    schemaVersion: 1,
    op: 'upsert',
    key: `IpAddress:${value}`,
    source: { id: `indicator--${i}`, standardId: `indicator--${randomUUID()}`, entityType: 'Indicator', streamId: 'bench', eventId: `${at}-${i}`, eventName: 'create' },
    facts: {
      type: 'IpAddress',
      value,
      name: `Bench indicator ${value}`,
      description: 'Command-and-control address seen in the benchmark campaign',
      score: (i * 37) % 101,
      confidence: 80,
      labels: ['c2', 'bench'],
      markings: ['TLP:GREEN'],
      tlp: 'TLP:GREEN',
      validFrom: new Date(at).toISOString(),
      validUntil: null,
      revoked: false,
      detection: true,
      createdBy: 'identity--bench',
      created: new Date(at).toISOString(),
      updated: new Date(at).toISOString(),
    },
  };
}

const s = randomUUID().slice(0, 8);
const topics = { commands: `bench-${s}.indicators`, dlq: `bench-${s}.dlq`, state: `bench-${s}.state`, group: `bench-writer-${s}` };
const brokers = requireBrokers();
const kafka = createKafka({ brokers, clientId: 'writer-bench' });
const admin = await kafka.admin();
await admin.createTopics([{ name: topics.commands, partitions: PARTITIONS, config: {} }]);

const t0 = performance.now();
const producer = await kafka.producer();
const at = Date.now() - 60_000;
for (let i = 0; i < N; i += 2000) {
  const batch = [];
  for (let j = i; j < Math.min(N, i + 2000); j++) {
    const c = command(j, at);
    batch.push({ topic: topics.commands, key: c.key, value: encodeCommand(c) });
  }
  await producer.send(batch);
}
await producer.close();
process.stdout.write(`backlog: ${N.toLocaleString('en-US')} commands produced in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

const emu = await startDefenderEmulator({ tenantId: TENANT, clients: [{ clientId: CLIENT_ID, clientSecret: SECRET }], port: 0, rateLimits: false, cap: CAP, maxRequestLog: 100 });
const metricsPort = await freePort();
const unlimited = '1000000';
const runtime = deployedRuntime('writer');
const child = startService(
  new URL('../src/main.ts', import.meta.url).pathname,
  {
    ...runtime,
    KAFKA_BROKERS: brokers.join(','),
    HTTP_PORT: String(metricsPort),
    CONNECTOR_LOG_LEVEL: process.env.BENCH_WRITER_LOG ? 'info' : 'warn',
    WRITER_TENANT_NAME: 'bench',
    KAFKA_TOPIC_COMMANDS: topics.commands,
    KAFKA_TOPIC_DLQ: topics.dlq,
    KAFKA_TOPIC_STATE: topics.state,
    KAFKA_CONSUMER_GROUP: topics.group,
    MICROSOFT_DEFENDER_INTEL_TENANT_ID: TENANT,
    MICROSOFT_DEFENDER_INTEL_CLIENT_ID: CLIENT_ID,
    MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: SECRET,
    MICROSOFT_DEFENDER_INTEL_TOKEN_ENDPOINT: emu.tokenUrl,
    MICROSOFT_DEFENDER_INTEL_BASE_URL: emu.url,
    MICROSOFT_DEFENDER_INTEL_MAX_INDICATORS: String(CAP),
    DEFENDER_QUOTA_IMPORT_PER_MINUTE: unlimited,
    DEFENDER_QUOTA_BATCH_DELETE_PER_MINUTE: unlimited,
    DEFENDER_QUOTA_BATCH_DELETE_PER_HOUR: unlimited,
    WRITER_RECONCILE_INTERVAL_MS: '0',
    WRITER_SESSION_TIMEOUT_MS: '10000',
  },
  // BENCH_WRITER_LOG=<file> keeps the writer's log (info level) for a closer look.
  { nodeArgs: serviceNodeArgs('defender-writer'), ...(process.env.BENCH_WRITER_LOG && { log: process.env.BENCH_WRITER_LOG }) },
);

// Done when every command is applied AND Defender holds the cap's choice: the CAP strongest keys (a
// backlog is folded first, catching up, and synced after, so the commands count alone is not the end).
const scoreOf = (i: number): number => (i * 37) % 101;
const byScore = new Array<number>(101).fill(0);
for (let i = 0; i < N; i++) byScore[scoreOf(i)] = (byScore[scoreOf(i)] ?? 0) + 1;
let threshold = 100;
for (let held = byScore[100] ?? 0; held < Math.min(CAP, N) && threshold > 0;) held += byScore[--threshold] ?? 0;
const indexOf = (ip: string): number => {
  const [a, b, c, d] = ip.split('.').map(Number) as [number, number, number, number];
  return ((a - 11) << 24) + (b << 16) + (c << 8) + d;
};
const synced = (): boolean => {
  const held = emu.indicators();
  return held.length === Math.min(CAP, N) && held.every((x) => scoreOf(indexOf(x.indicatorValue)) >= threshold);
};

let started: number | undefined;
let cpu0 = 0;
let rss0 = 0;
let peakHeap = 0;
let peakHeapTotal = 0;
let peakExternal = 0;
let peakAnon = 0;
let fifthHwm: number | undefined;
for (;;) {
  if (child.child.exitCode !== null) throw new Error(`writer exited with ${child.child.exitCode}`);
  const m = await scrape(metricsPort);
  const done = m.get('octi_writer_commands_total') ?? 0;
  peakHeap = Math.max(peakHeap, m.get('octi_writer_nodejs_heap_size_used_bytes') ?? 0);
  peakHeapTotal = Math.max(peakHeapTotal, m.get('octi_writer_nodejs_heap_size_total_bytes') ?? 0);
  peakExternal = Math.max(peakExternal, m.get('octi_writer_nodejs_external_memory_bytes') ?? 0);
  const now = procStats(child.pid);
  peakAnon = Math.max(peakAnon, now.rssAnonMb);
  if (fifthHwm === undefined && done >= N / 5) fifthHwm = now.peakRssMb;
  if (started === undefined && (m.get('octi_writer_assigned_partitions') ?? 0) === PARTITIONS) {
    started = performance.now();
    ({ cpuSec: cpu0, rssMb: rss0 } = procStats(child.pid));
  }
  if (done >= N && synced()) break;
  await new Promise((r) => setTimeout(r, done >= N ? 500 : 100));
}
const secs = (performance.now() - (started ?? t0)) / 1000;
const end = procStats(child.pid);
const stats = emu.stats();
const accepted = emu.indicators().length;
const code = await child.stop();
if (code !== 0) throw new Error(`writer exited with ${code} after SIGTERM`);
const note = `${N.toLocaleString('en-US')} distinct keys on ${PARTITIONS} partitions, cap ${
  CAP.toLocaleString('en-US')
}, quotas off, from partition assignment until every command is applied and Defender holds the ${Math.min(CAP, N).toLocaleString('en-US')} strongest`;
figure({ section: 'writer', name: 'commands/s', value: N / secs, unit: 'commands/s', target: '≥ 20,000', met: N / secs >= 20_000, note });
figure({ section: 'writer', name: 'CPU per 100k commands', value: ((end.cpuSec - cpu0) * 100_000) / N, unit: 'CPU s', note: 'writer process, user + system' });
const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);
const deployed = Object.entries(runtime).map(([k, v]) => `${k}=${v}`).join(' ') || 'no runtime settings';
figure({
  section: 'memory',
  name: 'writer peak RSS',
  value: end.peakRssMb,
  unit: 'MiB',
  target: '≤ 256',
  met: end.peakRssMb <= 256,
  note: `VmHWM of the writer process draining ${N.toLocaleString('en-US')} commands, ${deployed} (as deployed); RSS ${rss0.toFixed(0)} MiB at assignment, VmHWM ${
    fifthHwm?.toFixed(0) ?? '?'
  } MiB after a fifth of the commands; sampled peaks: anonymous RSS ${peakAnon.toFixed(0)} MiB (file-backed at the end ${end.rssFileMb.toFixed(0)} MiB), V8 heap committed ${
    mib(peakHeapTotal)
  } MiB, used ${mib(peakHeap)} MiB, external ${mib(peakExternal)} MiB`,
});
const minimum = Math.ceil(accepted / 500);
const calls = stats.import.calls + stats.batchDelete.calls;
figure({
  section: 'calls',
  name: 'backlog: import + BatchDelete calls',
  value: calls,
  unit: 'calls',
  target: `≤ 1.05 × minimum ${minimum}`,
  met: calls <= 1.05 * minimum,
  note: `${stats.import.calls} imports + ${stats.batchDelete.calls} BatchDeletes for the ${accepted.toLocaleString('en-US')} indicators held after a backlog of ${N.toLocaleString('en-US')} (cap ${
    CAP.toLocaleString('en-US')
  }); minimum ceil(${accepted}/500) imports + 0`,
});
await emu.close();
await admin.close();
await kafka.close();
