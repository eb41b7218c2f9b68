// Writer throughput and memory: N upserts of distinct keys (scores spread over 0–100, so the cap
// has to choose) wait in the commands topic of a real broker (KAFKA_BROKERS, from `npm run bench`);
// the production entry point (main.ts) runs as a child process against the Defender emulator with
// Defender's quotas off, and drains the backlog. Prints commands/s, Defender calls against the
// minimum ceil(items / 500) per endpoint, and the writer's peak RSS (VmHWM: its own process only).
// BENCH_COMMANDS sets N (default 200,000; the design's figure is 1,000,000).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { openSync, readFileSync } from 'node:fs';
import { startDefenderEmulator } from '@octi-defender/emulators';
import { createKafka } from '@octi-defender/kafka';
import { encodeCommand, type Command } from '@octi-defender/indicators';
import { freePort, requireBrokers } from '@octi-defender/kafka/testing';

const N = Number(process.env.BENCH_COMMANDS ?? 200_000);
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
const heapMb = process.env.BENCH_WRITER_HEAP_MB;
const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', ...(heapMb ? [`--max-old-space-size=${heapMb}`] : []), new URL('../src/main.ts', import.meta.url).pathname], {
  // BENCH_WRITER_LOG=<file> keeps the writer's log (info level) for a closer look.
  stdio: ['ignore', process.env.BENCH_WRITER_LOG ? openSync(process.env.BENCH_WRITER_LOG, 'w') : 'ignore', 'inherit'],
  env: {
    PATH: process.env.PATH,
    ...(process.env.MALLOC_ARENA_MAX && { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX }),
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
});
const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

async function scrape(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    for (const line of text.split('\n')) {
      if (line.startsWith('#') || line === '') continue;
      const sp = line.lastIndexOf(' ');
      const name = line.slice(0, sp).replace(/\{.*\}$/, '');
      out.set(name, (out.get(name) ?? 0) + Number(line.slice(sp + 1)));
    }
  } catch {
    // not listening yet
  }
  return out;
}

let started: number | undefined;
let peakHeap = 0;
let peakExternal = 0;
for (;;) {
  if (child.exitCode !== null) throw new Error(`writer exited with ${child.exitCode}`);
  const m = await scrape();
  const done = m.get('octi_writer_commands_total') ?? 0;
  peakHeap = Math.max(peakHeap, m.get('octi_writer_nodejs_heap_size_used_bytes') ?? 0);
  peakExternal = Math.max(peakExternal, m.get('octi_writer_nodejs_external_memory_bytes') ?? 0);
  if (started === undefined && (m.get('octi_writer_assigned_partitions') ?? 0) === PARTITIONS) started = performance.now();
  if (done >= N) break;
  await new Promise((r) => setTimeout(r, 100));
}
const secs = (performance.now() - (started ?? t0)) / 1000;
const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
const hwm = kb('VmHWM');
process.stdout.write(`  at the end: RSS ${kb('VmRSS').toFixed(0)} MB (anonymous ${kb('RssAnon').toFixed(0)}, file ${kb('RssFile').toFixed(0)})\n`);
const stats = emu.stats();
const accepted = emu.indicators().length;
child.kill('SIGTERM');
const code = await exited;
process.stdout.write(
  `defender-writer: ${N.toLocaleString('en-US')} commands in ${secs.toFixed(1)} s = ${Math.round(N / secs).toLocaleString('en-US')} commands/s ` +
    `(from partition assignment to the last batch committed; Defender quotas off)\n` +
    `  Defender: ${accepted.toLocaleString('en-US')} indicators held (cap ${CAP.toLocaleString('en-US')}), ` +
    `${stats.import.calls} import calls (minimum ${Math.ceil(accepted / 500)}), ${stats.batchDelete.calls} BatchDelete calls\n` +
    `  peak RSS of the writer process: ${hwm.toFixed(0)} MB (sampled peaks: heap used ${(peakHeap / 2 ** 20).toFixed(0)} MB, ` +
    `external ${(peakExternal / 2 ** 20).toFixed(0)} MB); exit code after SIGTERM: ${code}\n`,
);
await emu.close();
await admin.close();
await kafka.close();
