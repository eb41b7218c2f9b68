// First sync of a new deployment: the commands topic already holds the candidates (15,000 for a cap of
// 15,000; then 50,000 for the same cap), a writer starts with the real quotas (30 imports/min, 30
// BatchDeletes/min and 1,500/h) and pushes until Defender holds the cap's 15,000. Emulated time: the
// emulator's timeScale BENCH_TIME_SCALE (10) with the writer's quota clock scaled alike, as the
// writer's quota test does. Reported in real-Defender minutes = the real time until the first
// Defender write (reading and planning the backlog: not scaled) + the span of the Defender writes in
// emulated time (quota waits; the planning between calls is scaled too, so this part is an upper
// bound). The emulator records request times on its own (emulated) clock: the prefix is that clock's
// advance divided by the scale, the span is taken as it is.
import { figure, size } from '../../../bench/lib.ts';
import { systemClock, type Clock } from '../src/defender/quota.ts';
import { createCommandsTopic, emulator, groupLag, ours, publish, startWriter, uniqueTopics, up, waitFor, writerEnv } from '../test/harness.ts';

const SCALE = Number(process.env.BENCH_TIME_SCALE ?? 10);
/** The writer's quota clock running `scale` times faster than real time, as the emulator's timeScale. */
const scaledClock = (scale: number): Clock => ({ now: () => performance.now() * scale, sleep: (ms, signal) => systemClock.sleep(ms / scale, signal) });
const CAP = 15_000;
const ipOf = (i: number): string => `${11 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}.7`;

async function firstSync(candidates: number): Promise<void> {
  const emu = await emulator({ timeScale: SCALE, rateLimits: true, cap: CAP, maxRequestLog: 10_000 });
  const t = uniqueTopics();
  await createCommandsTopic(t, 6);
  // Scores spread over 1–100, so with more candidates than the cap the writer has to choose.
  await publish(t, Array.from({ length: candidates }, (_, i) => up(`src-${i}`, ipOf(i), 1 + ((i * 37) % 100))));
  const start = emu.now();
  const w = await startWriter(writerEnv(emu, t, { MICROSOFT_DEFENDER_INTEL_MAX_INDICATORS: String(CAP), DEFENDER_HTTP_MAX_RETRIES: '5', DEFENDER_RETRY_MAX_MS: '60000' }), {
    clock: scaledClock(SCALE),
  });
  try {
    await waitFor('the cap filled', async () => ours(emu).length === CAP && (await groupLag(t)) === 0n, 1_800_000);
    const writes = [...emu.requests('import'), ...emu.requests('batchDelete')].map((r) => ({ at: Date.parse(r.time), status: r.status, endpoint: r.endpoint }));
    const firstAt = Math.min(...writes.map((r) => r.at));
    const lastAt = Math.max(...writes.map((r) => r.at));
    const prefixMs = (firstAt - start) / SCALE;
    const spanMs = lastAt - firstAt;
    const minutes = (prefixMs + spanMs) / 60_000;
    const imports = writes.filter((r) => r.endpoint === 'import').length;
    const refused = writes.filter((r) => r.status === 429).length;
    figure({
      section: 'first-sync',
      name: `${candidates.toLocaleString('en-US')} candidates, cap ${CAP.toLocaleString('en-US')}`,
      value: minutes,
      unit: 'real-Defender min',
      target: '≤ 2',
      met: minutes <= 2,
      note: `${(prefixMs / 1000).toFixed(1)} s real until the first write + ${(spanMs / 1000).toFixed(0)} s emulated of writes (timeScale ${SCALE}); ${imports} imports (minimum ${
        Math.ceil(CAP / 500)
      }), ${writes.length - imports} BatchDeletes, ${refused} answered 429`,
    });
  } finally {
    await w.stop();
    await emu.close();
  }
}

await firstSync(size('BENCH_FIRST_SYNC_SMALL', 15_000, 15_000));
await firstSync(size('BENCH_FIRST_SYNC_LARGE', 50_000, 50_000));
