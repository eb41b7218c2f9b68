// `npm run e2e [-- --ci] [--only=a,b] [--size=N]`: the end-to-end fault suite (see e2e/README.md).
// Prints one table row per scenario and exits non-zero unless every scenario ended exact.
import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { startRestartableBroker } from '@octi-defender/kafka/testing';
import { SCENARIOS as FAULTS, type Outcome, type Scenario } from './scenarios.ts';
import { SHARED_TENANT } from './shared-tenant.ts';
import { World } from './world.ts';

const SCENARIOS: Scenario[] = [...FAULTS, ...SHARED_TENANT];
const REPO = fileURLToPath(new URL('../', import.meta.url));
const { values: args } = parseArgs({ options: { ci: { type: 'boolean', default: false }, only: { type: 'string' }, size: { type: 'string' } } });
const only = args.only?.split(',').map((s) => s.trim());
const unknown = only?.filter((n) => !SCENARIOS.some((s) => s.name === n)) ?? [];
if (unknown.length > 0) {
  console.error(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const selected = SCENARIOS.filter((s) => (only ? only.includes(s.name) : !args.ci || s.ci));
const size = Number(args.size ?? (args.ci ? 600 : 2000));
const runDir = join(REPO, '.cache', 'e2e', new Date().toISOString().replaceAll(':', '-'));

interface Row {
  scenario: string;
  result: string;
  figures: string;
  faults: string;
  restarts: string;
  seconds: number;
  details: string[];
}

function verdict(o: Outcome): string {
  const f = o.figures;
  if (!o.quiescent) return 'NOT QUIESCENT';
  if (o.failed !== undefined) return `FAILED: ${o.failed}`;
  if (f.missing + f.unexpected + f.duplicated + f.foreignTouched > 0) return 'NOT EXACT';
  if (o.faults.some((x) => x.answered < 1)) return 'FAULT UNANSWERED';
  return 'exact';
}

async function runOne(s: Scenario, broker: Awaited<ReturnType<typeof startRestartableBroker>>): Promise<Row> {
  const started = Date.now();
  const logDir = join(runDir, s.name);
  mkdirSync(logDir, { recursive: true });
  process.stderr.write(`e2e: ${s.name}: starting (logs in ${relative(REPO, logDir)})\n`);
  const defender = typeof s.defender === 'function' ? s.defender(size) : s.defender;
  const w = await World.create({ name: s.name, broker, logDir, ...(defender && { defender }), ...(s.writerEnv && { writerEnv: s.writerEnv }) });
  try {
    const o = await s.run(w, size);
    const f = o.figures;
    const result = verdict(o);
    const row: Row = {
      scenario: s.name,
      result,
      figures: `${f.missing} / ${f.unexpected} / ${f.duplicated} / ${f.foreignTouched}`,
      faults: o.faults.map((x) => `${x.name}: ${x.answered}`).join('; ') || '-',
      restarts: w.processes.map((p) => `${p.spec.name}:${p.restarts}`).join(' '),
      seconds: Math.round((Date.now() - started) / 1000),
      details: [`expected ${f.expected}, ours held ${f.held}`, ...o.notes, ...f.examples],
    };
    process.stderr.write(`e2e: ${s.name}: ${result} in ${row.seconds} s (${row.details.join('; ')})\n`);
    return row;
  } catch (err) {
    const tails = w.processes.map((p) => `--- ${p.spec.name}\n${p.tail(15)}`).join('\n');
    process.stderr.write(`e2e: ${s.name}: error ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n${tails}\n`);
    return {
      scenario: s.name,
      result: 'ERROR',
      figures: '-',
      faults: '-',
      restarts: w.processes.map((p) => `${p.spec.name}:${p.restarts}`).join(' '),
      seconds: Math.round((Date.now() - started) / 1000),
      details: [String(err)],
    };
  } finally {
    await w.close();
  }
}

function table(rows: readonly Row[]): string {
  const head = ['scenario', 'result', 'missing / unexpected / duplicated / foreign touched', 'faults answered', 'restarts', 'duration'];
  const body = rows.map((r) => [r.scenario, r.result, r.figures, r.faults, r.restarts, `${r.seconds} s`]);
  const lines = [head, head.map(() => '---'), ...body].map((cols) => `| ${cols.join(' | ')} |`);
  const details = rows.flatMap((r) => r.details.length > 0 ? [`- ${r.scenario}: ${r.details.join('; ')}`] : []);
  return [...lines, '', ...details].join('\n');
}

const started = Date.now();
const broker = await startRestartableBroker();
// Ctrl-C / SIGTERM: the exit hooks stop the services and the broker and remove its data.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
const rows: Row[] = [];
try {
  for (const s of selected) rows.push(await runOne(s, broker));
} finally {
  await broker.stop();
}
console.log(`\ne2e: ${selected.length} scenario(s), ${size} entities each, ${Math.round((Date.now() - started) / 1000)} s\n`);
console.log(table(rows));
process.exitCode = rows.every((r) => r.result === 'exact') ? 0 : 1;
