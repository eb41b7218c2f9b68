// End to end latency, OpenCTI emission → Defender acceptance, at a steady 100 events/s: the OpenCTI
// and Defender emulators in this process, both services' main.ts as child processes, a real broker
// (KAFKA_BROKERS). Emission = the time an indicator create is appended to the OpenCTI log; acceptance =
// the time the Defender emulator answered the first import carrying its value with 200. Twice: with
// Defender's quotas off, then under the real quota (30 imports/min) in real time. Under the quota it
// also reports how evenly the budget is spent: the longest gap between imports and the busiest
// 15 s against the quota's even pace (7.5 imports per 15 s), and items per import.
// BENCH_LATENCY_SECONDS (quick 20, full 60) and BENCH_LATENCY_QUOTA_SECONDS (quick 60, full 180).
import { randomUUID } from 'node:crypto';
import { startDefenderEmulator, startOpenCtiEmulator, type DefenderEmulator } from '@octi-defender/emulators';
import { freePort, requireBrokers } from '@octi-defender/kafka/testing';
import { deployedRuntime, figure, percentile, scrape, serviceNodeArgs, size, startService, waitFor, type Service } from './lib.ts';

const RATE = 100;
const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT_ID = '3f2b8c1e-6a4d-4e7b-9c2a-1d5e8f7a6b4c';
const SECRET = 'bench-secret-value';
const TOKEN = 'bench-token-0123456789';
const STREAM = 'live';
const brokers = requireBrokers();

interface Run {
  readonly latencies: number[];
  readonly emitted: number;
  readonly importTimes: number[];
  readonly importItems: number;
  readonly refused: number;
  readonly emitStart: number;
  readonly emitEnd: number;
  /** Where the time goes: the listener's transactions and the writer's batches. */
  readonly pipeline: string;
}

async function ready(port: number, service: Service): Promise<void> {
  await waitFor('ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)), 120_000, service, 200);
}

async function run(quota: boolean, seconds: number): Promise<Run> {
  const octi = await startOpenCtiEmulator({ port: 0, host: '127.0.0.1', token: TOKEN, streams: [{ id: STREAM }], heartbeatMs: 1000, maxLength: 1_000_000 });
  const emu: DefenderEmulator = await startDefenderEmulator({
    tenantId: TENANT,
    clients: [{ clientId: CLIENT_ID, clientSecret: SECRET }],
    port: 0,
    rateLimits: quota,
    cap: 1_000_000,
    maxRequestLog: 100_000,
  });
  const s = randomUUID().slice(0, 8);
  const topics = { commands: `bench-${s}.indicators`, checkpoints: `bench-${s}.checkpoints`, dlq: `bench-${s}.dlq`, state: `bench-${s}.state` };
  const listenerPort = await freePort();
  const writerPort = await freePort();
  const common = { KAFKA_BROKERS: brokers.join(','), CONNECTOR_LOG_LEVEL: 'warn', KAFKA_TOPIC_COMMANDS: topics.commands, KAFKA_TOPIC_DLQ: topics.dlq };
  const listener = startService(
    new URL('../services/stream-listener/src/main.ts', import.meta.url).pathname,
    {
      ...common,
      HTTP_PORT: String(listenerPort),
      OPENCTI_URL: octi.url,
      OPENCTI_TOKEN: TOKEN,
      CONNECTOR_LIVE_STREAM_ID: STREAM,
      CONNECTOR_LIVE_STREAM_START_FROM: '0',
      KAFKA_TOPIC_CHECKPOINTS: topics.checkpoints,
      LISTENER_GROUP_ID: `bench-${s}`,
      LISTENER_LEASE_TIMEOUT_MS: '6000',
    },
    { nodeArgs: serviceNodeArgs('stream-listener-latency') },
  );
  const unlimited = '1000000';
  const writer = startService(
    new URL('../services/defender-writer/src/main.ts', import.meta.url).pathname,
    {
      ...deployedRuntime('writer'),
      ...common,
      HTTP_PORT: String(writerPort),
      WRITER_TENANT_NAME: 'bench',
      KAFKA_TOPIC_STATE: topics.state,
      KAFKA_CONSUMER_GROUP: `bench-writer-${s}`,
      MICROSOFT_DEFENDER_INTEL_TENANT_ID: TENANT,
      MICROSOFT_DEFENDER_INTEL_CLIENT_ID: CLIENT_ID,
      MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: SECRET,
      MICROSOFT_DEFENDER_INTEL_TOKEN_ENDPOINT: emu.tokenUrl,
      MICROSOFT_DEFENDER_INTEL_BASE_URL: emu.url,
      WRITER_RECONCILE_INTERVAL_MS: '0',
      WRITER_SESSION_TIMEOUT_MS: '10000',
      ...(!quota && { DEFENDER_QUOTA_IMPORT_PER_MINUTE: unlimited, DEFENDER_QUOTA_BATCH_DELETE_PER_MINUTE: unlimited, DEFENDER_QUOTA_BATCH_DELETE_PER_HOUR: unlimited }),
    },
    { nodeArgs: serviceNodeArgs('defender-writer-latency') },
  );
  try {
    await ready(listenerPort, listener);
    await ready(writerPort, writer);
    // The writer creates the state topic once the listener has created the commands topic.
    await waitFor('writer assigned', async () => ((await scrape(writerPort)).get('octi_writer_assigned_partitions') ?? 0) > 0, 120_000, writer, 200);

    const emittedAt = new Map<string, number>();
    const emitStart = Date.now();
    const total = RATE * seconds;
    let sent = 0;
    while (sent < total) {
      const due = Math.min(total, Math.floor(((Date.now() - emitStart) * RATE) / 1000));
      for (; sent < due; sent++) {
        const data = octi.generator.indicator('ipv4');
        const value = /'([^']+)'/.exec(String(data.pattern))?.[1];
        octi.append({ op: 'create', data });
        if (value !== undefined) emittedAt.set(value, Date.now());
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    const emitEnd = Date.now();

    const accepted = new Map<string, number>();
    const collect = (): number => {
      for (const r of emu.requests('import')) {
        if (r.status !== 200) continue;
        const at = Date.parse(r.time);
        for (const i of (r.body as { Indicators?: { indicatorValue?: string }[] } | undefined)?.Indicators ?? []) {
          if (i.indicatorValue !== undefined && !accepted.has(i.indicatorValue)) accepted.set(i.indicatorValue, at);
        }
      }
      return accepted.size;
    };
    // Done when every command is committed and no new value was accepted for longer than a quota window.
    const settleMs = quota ? 65_000 : 5_000;
    let lastSize = -1;
    let lastChange = Date.now();
    await waitFor(
      'latency run settled',
      async () => {
        const n = collect();
        if (n !== lastSize) [lastSize, lastChange] = [n, Date.now()];
        const lag = (await scrape(writerPort)).get('octi_writer_consumer_lag') ?? 1;
        return lag === 0 && Date.now() - lastChange > settleMs;
      },
      1_800_000,
      writer,
      500,
    );
    const latencies: number[] = [];
    for (const [value, at] of emittedAt) {
      const ok = accepted.get(value);
      if (ok !== undefined) latencies.push(ok - at);
    }
    const imports = emu.requests('import');
    const lm = await scrape(listenerPort);
    const wm = await scrape(writerPort);
    const txns = lm.get('octi_listener_publish_seconds_count') ?? 0;
    const pipeline = `listener: ${txns.toLocaleString('en-US')} transactions, ${((1000 * (lm.get('octi_listener_publish_seconds_sum') ?? 0)) / Math.max(1, txns)).toFixed(0)} ms each on average; ` +
      `writer: ${(wm.get('octi_writer_batches_total') ?? 0).toLocaleString('en-US')} batches, ${(wm.get('defender_api_quota_wait_seconds_sum') ?? 0).toFixed(0)} s waiting for the quota`;
    return {
      pipeline,
      latencies: latencies.sort((a, b) => a - b),
      emitted: emittedAt.size,
      importTimes: imports.filter((r) => r.status === 200).map((r) => Date.parse(r.time)).sort((a, b) => a - b),
      importItems: imports.filter((r) => r.status === 200).reduce((n, r) => n + (r.items ?? 0), 0),
      refused: imports.filter((r) => r.status === 429).length,
      emitStart,
      emitEnd,
    };
  } finally {
    await writer.stop();
    await listener.stop();
    await emu.close();
    await octi.close();
  }
}

function report(name: string, r: Run, p99Target: number): void {
  const note = `${r.latencies.length.toLocaleString('en-US')} of ${
    r.emitted.toLocaleString('en-US')
  } emitted indicators accepted (the others were never sent: not eligible under the default policy, e.g. the generator's TLP:RED; not checked one by one); ${r.importTimes.length} imports, ${
    (r.importItems / Math.max(1, r.importTimes.length)).toFixed(0)
  } items per import; ${r.refused} answered 429; ${r.pipeline}`;
  figure({ section: 'latency', name: `${name}: p50`, value: percentile(r.latencies, 50), unit: 'ms', note });
  figure({ section: 'latency', name: `${name}: p95`, value: percentile(r.latencies, 95), unit: 'ms' });
  figure({ section: 'latency', name: `${name}: p99`, value: percentile(r.latencies, 99), unit: 'ms', target: `≤ ${p99Target.toLocaleString('en-US')}`, met: percentile(r.latencies, 99) <= p99Target });
}

const plain = await run(false, size('BENCH_LATENCY_SECONDS', 20, 60));
report('no quota', plain, 1000);
const limited = await run(true, size('BENCH_LATENCY_QUOTA_SECONDS', 60, 180));
// The quota's minimum spacing of imports: 60 s / 30; one round trip = the median without quota.
const spacing = 2000;
report('real quota', limited, Math.round(2 * spacing + percentile(plain.latencies, 50)));

// Evenness while events flow: from the first import to the first one after the end of emission
// (or the end itself), so that a stall straddling the end counts.
const after = limited.importTimes.find((t) => t > limited.emitEnd);
const during = [...limited.importTimes.filter((t) => t <= limited.emitEnd), after ?? limited.emitEnd];
let maxGap = 0;
for (let i = 1; i < during.length; i++) maxGap = Math.max(maxGap, (during[i] as number) - (during[i - 1] as number));
const inWindow = limited.importTimes.filter((t) => t <= limited.emitEnd);
let busiest = 0;
for (let i = 0, j = 0; i < inWindow.length; i++) {
  while ((inWindow[j] as number) <= (inWindow[i] as number) - 15_000) j++;
  busiest = Math.max(busiest, i - j + 1);
}
const even = maxGap <= 2 * spacing && busiest <= 8;
figure({
  section: 'latency',
  name: 'real quota: longest gap between imports',
  value: maxGap / 1000,
  unit: 's',
  target: `≤ ${(2 * spacing) / 1000} (even use, no burst-then-stall)`,
  met: maxGap <= 2 * spacing,
  note: `${inWindow.length} imports while emitting at ${RATE}/s for ${((limited.emitEnd - limited.emitStart) / 1000).toFixed(0)} s`,
});
figure({
  section: 'latency',
  name: 'real quota: imports in the busiest 15 s',
  value: busiest,
  unit: 'imports',
  target: '≤ 8 (even pace 7.5)',
  met: busiest <= 8,
  note: even ? 'quota used evenly' : 'quota NOT used evenly (burst then stall)',
});
