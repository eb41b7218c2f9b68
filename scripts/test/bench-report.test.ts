// The benchmark report: derived ratios, the markdown table and the README rewrite (pure functions
// of bench/report.ts; the figures themselves come from `npm run bench`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { derive, renderMarkdown, replaceBetween, type Results } from '../../bench/report.ts';
import type { Figure } from '../../bench/lib.ts';

const figures: Figure[] = [
  { section: 'ceiling', name: 'kafkajs transactional produce', value: 40_000, unit: 'records/s' },
  { section: 'ceiling', name: 'kafkajs batch consume (read_committed)', value: 200_000, unit: 'records/s' },
  { section: 'listener', name: 'commands/s (committed)', value: 30_000, unit: 'commands/s' },
  { section: 'writer', name: 'commands/s', value: 5_000, unit: 'commands/s', target: '≥ 20,000', met: false, note: 'a | b' },
];

test('the listener is divided by the transactional-produce ceiling of the same run, against the 60 % target', () => {
  const d = derive(figures);
  const listener = d.find((f) => f.section === 'listener');
  assert.equal(listener?.value, 75);
  assert.equal(listener?.met, true);
  assert.equal(d.find((f) => f.section === 'writer')?.value, 2.5);
  assert.equal(derive([{ ...(figures[2] as Figure), value: 20_000 }, figures[0] as Figure]).find((f) => f.section === 'listener')?.met, false);
  assert.deepEqual(derive([figures[3] as Figure]), [], 'no ceiling measured, no ratio');
});

test('the table names the mode, the machine and every section, marks shortfalls and escapes cells', () => {
  const r: Results = {
    mode: 'quick',
    startedAt: '2026-12-01T08:00:00.000Z',
    finishedAt: '2026-12-01T08:05:00.000Z',
    machine: { cores: 2, cpu: 'cpu', memoryGb: 24, loadStart: [15, 14, 13], loadEnd: [20, 16, 14], node: 'v24.21.0', kafka: '4.4.0', kafkajs: '2.2.4', commit: 'abc1234' },
    figures,
    failed: ['bench/latency.bench.ts'],
  };
  const md = renderMarkdown(r);
  assert.match(md, /^Run: quick mode/);
  assert.match(md, /2 cores .* 24 GB, load average 15\.0 \/ 14\.0 \/ 13\.0 at the start and 20\.0 \/ 16\.0 \/ 14\.0 at the end/);
  assert.match(md, /Node v24\.21\.0, Kafka 4\.4\.0, kafkajs 2\.2\.4/);
  assert.match(md, /\| commands\/s \| 5,000 commands\/s \| ≥ 20,000 \| \*\*not met\*\* \| a \\\| b \|/);
  assert.match(md, /\| 7\. Memory while draining a backlog \| \(not measured in this run\)/);
  assert.match(md, /Failed bench files \(figures missing\): bench\/latency\.bench\.ts/);
});

test('the README table is replaced between its markers, and missing markers are an error', () => {
  const text = 'a\n<!-- s -->\nold\n<!-- e -->\nb\n';
  assert.equal(replaceBetween(text, '<!-- s -->', '<!-- e -->', 'new\n'), 'a\n<!-- s -->\nnew\n<!-- e -->\nb\n');
  assert.throws(() => replaceBetween('no markers', '<!-- s -->', '<!-- e -->', 'x'), /markers/);
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  assert.ok(readme.includes('<!-- bench:results:start -->') && readme.includes('<!-- bench:results:end -->'), 'the README has the markers npm run bench writes between');
});
