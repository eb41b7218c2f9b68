// Parse + extraction (and normalization) time of very large patterns, at growing sizes: the time per byte stays flat when
// both are linear (no recursion, no quadratic rescans). Run: node libs/indicators/bench/pattern.bench.ts
import { extractValues, MarkingRegistry, normalizeEvent, parsePattern } from '../src/index.ts';
import { event, indicator, NOW } from '../test/fixtures.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ip = (i: number): string => `11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

const shapes: Record<string, (n: number) => string> = {
  'nested parentheses': (n) => `${'('.repeat(n)}[ipv4-addr:value = '8.8.8.8']${')'.repeat(n)}`,
  'ORed comparisons': (n) => `[${Array.from({ length: n }, (_, i) => `ipv4-addr:value = '${ip(i)}'`).join(' OR ')}]`,
  'ORed observations': (n) => Array.from({ length: n }, (_, i) => `[ipv4-addr:value = '${ip(i)}']`).join(' OR '),
  'IN set members': (n) => `[ipv4-addr:value IN (${Array.from({ length: n }, (_, i) => `'${ip(i)}'`).join(', ')})]`,
};

function parseAndExtract(src: string): void {
  const parsed = parsePattern(src);
  if (!parsed.ok) throw new Error(parsed.error.message);
  extractValues(parsed.pattern);
}

// The whole create event: keys, canonical values, one command per value.
const registry = new MarkingRegistry();
function normalizeCreate(src: string): void {
  const e = event('create', indicator(src));
  normalizeEvent(e, NOW, registry);
}

const measured: [string, (n: number) => string, (src: string) => void][] = [
  ...Object.entries(shapes).map(([name, build]): [string, (n: number) => string, (src: string) => void] => [name, build, parseAndExtract]),
  ['normalizeEvent, ORed comparisons', shapes['ORed comparisons'] as (n: number) => string, normalizeCreate],
];

for (const [name, build, run] of measured) {
  for (const n of [10_000, 50_000, 100_000]) {
    const src = build(n);
    let best = Infinity;
    for (let r = 0; r < ROUNDS; r++) {
      const start = process.hrtime.bigint();
      run(src);
      best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6);
    }
    const kb = Math.round(src.length / 1024);
    const nsPerByte = ((best * 1e6) / src.length).toFixed(1);
    process.stdout.write(`${`${name} ×${n.toLocaleString('en-US')}`.padEnd(44)} ${`${kb} KiB`.padStart(9)} ${`${best.toFixed(1)} ms`.padStart(10)} ${`${nsPerByte} ns/byte`.padStart(14)}\n`);
  }
}
