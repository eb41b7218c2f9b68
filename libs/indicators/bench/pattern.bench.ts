// Parse + extraction time of very large patterns, at growing sizes: the time per byte stays flat when
// both are linear (no recursion, no quadratic rescans). Run: node libs/indicators/bench/pattern.bench.ts
import { extractValues, parsePattern } from '../src/index.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ip = (i: number): string => `11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

const shapes: Record<string, (n: number) => string> = {
  'nested parentheses': (n) => `${'('.repeat(n)}[ipv4-addr:value = '8.8.8.8']${')'.repeat(n)}`,
  'ORed comparisons': (n) => `[${Array.from({ length: n }, (_, i) => `ipv4-addr:value = '${ip(i)}'`).join(' OR ')}]`,
  'ORed observations': (n) => Array.from({ length: n }, (_, i) => `[ipv4-addr:value = '${ip(i)}']`).join(' OR '),
  'IN set members': (n) => `[ipv4-addr:value IN (${Array.from({ length: n }, (_, i) => `'${ip(i)}'`).join(', ')})]`,
};

for (const [name, build] of Object.entries(shapes)) {
  for (const n of [10_000, 50_000, 100_000]) {
    const src = build(n);
    let best = Infinity;
    for (let r = 0; r < ROUNDS; r++) {
      const start = process.hrtime.bigint();
      const parsed = parsePattern(src);
      if (!parsed.ok) throw new Error(parsed.error.message);
      extractValues(parsed.pattern);
      best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e6);
    }
    const kb = Math.round(src.length / 1024);
    const nsPerByte = ((best * 1e6) / src.length).toFixed(1);
    process.stdout.write(`${`${name} ×${n.toLocaleString('en-US')}`.padEnd(34)} ${`${kb} KiB`.padStart(9)} ${`${best.toFixed(1)} ms`.padStart(10)} ${`${nsPerByte} ns/byte`.padStart(14)}\n`);
  }
}
