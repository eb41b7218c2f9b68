// `npm run bench [-- --quick] [name…]`: runs every `*.bench.ts` beside the code it measures (and the
// end-to-end ones in bench/), one at a time, with one real Kafka broker for all (KAFKA_BROKERS, as in
// the tests), so that the figures of one run can be divided by each other. Each bench appends its
// figures to BENCH_OUT; this script adds the machine and the derived ratios and writes
// bench/results.json, bench/results.md and, for a whole run, the README's Benchmarks table.
// Nothing is asserted: targets are reported as met or not met.
import { spawnSync } from 'node:child_process';
import { globSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { KAFKA_VERSION, startKafka } from '@octi-defender/kafka/testing';
import type { Figure } from '../bench/lib.ts';
import { derive, renderMarkdown, replaceBetween, type Results } from '../bench/report.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick') || process.env.BENCH_QUICK === '1';
// Several names run those benches in one run (one broker), e.g. `ceiling stream-listener` for a ratio.
const only = args.filter((a) => !a.startsWith('--'));
const files = globSync(['libs/*/bench/*.bench.ts', 'services/*/bench/*.bench.ts', 'bench/*.bench.ts'])
  .filter((f) => only.length === 0 || only.some((o) => f.includes(o)))
  .sort();

const kafkajs = (createRequire(join(process.cwd(), 'libs/kafka/package.json'))('kafkajs/package.json') as { version: string }).version;
const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim();
const startedAt = new Date().toISOString();
const loadStart = loadavg();
const dir = mkdtempSync(join(tmpdir(), 'bench-'));
const out = join(dir, 'figures.jsonl');
writeFileSync(out, '');

const kafka = await startKafka();
const failed: string[] = [];
try {
  for (const file of files) {
    console.log(`\n# ${file}`);
    const r = spawnSync(process.execPath, ['--disable-warning=TimeoutNegativeWarning', file], {
      stdio: 'inherit',
      env: { ...process.env, KAFKA_BROKERS: kafka.brokers.join(','), BENCH_OUT: out, ...(quick && { BENCH_QUICK: '1' }) },
    });
    if (r.status !== 0) failed.push(file);
  }
} finally {
  await kafka.stop();
}

const measured = readFileSync(out, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Figure);
rmSync(dir, { recursive: true, force: true });
const results: Results = {
  mode: quick ? 'quick' : 'full',
  startedAt,
  finishedAt: new Date().toISOString(),
  machine: {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    loadStart,
    loadEnd: loadavg(),
    node: process.version,
    kafka: KAFKA_VERSION,
    kafkajs,
    commit,
  },
  figures: [...measured, ...derive(measured)],
  failed,
};
const table = renderMarkdown(results);
writeFileSync('bench/results.json', `${JSON.stringify(results, null, 2)}\n`);
writeFileSync('bench/results.md', `# Benchmark results\n\n${table}`);
if (only.length === 0) {
  const readme = readFileSync('README.md', 'utf8');
  writeFileSync('README.md', replaceBetween(readme, '<!-- bench:results:start -->', '<!-- bench:results:end -->', table));
}
console.log(`\n${table}`);
process.exitCode = failed.length > 0 ? 1 : 0;
