// Top frames of a V8 CPU profile (`--cpu-prof`, e.g. from `BENCH_PROFILE=1 npm run bench`: self time)
// or sampling heap profile (`--heap-prof`, BENCH_PROFILE=heap: bytes allocated and still live at the
// end), per function and grouped by package or file, so that a report can name what bounds a figure.
// Usage: node bench/profile-top.ts <file.cpuprofile|file.heapprofile> [count]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}
interface HeapNode {
  callFrame: ProfileNode['callFrame'];
  selfSize: number;
  children: HeapNode[];
}

const [file, countArg] = process.argv.slice(2);
if (!file) throw new Error('usage: node bench/profile-top.ts <file.cpuprofile> [count]');
const count = Number(countArg ?? 25);
const parsed = JSON.parse(readFileSync(file, 'utf8')) as Profile | { head: HeapNode };
// One list of (frame, weight): CPU microseconds or heap bytes.
const weights: [ProfileNode['callFrame'], number][] = [];
if ('head' in parsed) {
  const stack = [parsed.head];
  for (let n = stack.pop(); n; n = stack.pop()) {
    weights.push([n.callFrame, n.selfSize]);
    stack.push(...n.children);
  }
} else {
  const byId = new Map(parsed.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  parsed.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (parsed.timeDeltas[i] ?? 0)));
  for (const [id, us] of self) {
    const f = byId.get(id)?.callFrame;
    if (f) weights.push([f, us]);
  }
}
const heap = 'head' in parsed;
const total = weights.reduce((a, [, w]) => a + w, 0);

const where = (url: string): string => url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, 'node_modules/').replace(process.cwd() + '/', '');
const group = (url: string): string => {
  const w = where(url);
  if (w === '') return '(native / V8)';
  if (w.startsWith('node:')) return w;
  const m = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(w);
  return m ? (m[1] as string) : w;
};
const fns = new Map<string, number>();
const groups = new Map<string, number>();
for (const [f, us] of weights) {
  const key = `${f.functionName || '(anonymous)'}  ${where(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
  fns.set(key, (fns.get(key) ?? 0) + us);
  const g = group(f.url);
  groups.set(g, (groups.get(g) ?? 0) + us);
}
const top = (m: Map<string, number>): string[] => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, count).map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
const what = heap ? 'live sampled heap' : 'self time';
const sum = heap ? `${(total / 2 ** 20).toFixed(1)} MiB live (sampled)` : `${(total / 1e6).toFixed(1)} s sampled`;
console.log(`${file}: ${sum}\n\n${what} by function:\n${top(fns).join('\n')}\n\n${what} by package / file:\n${top(groups).join('\n')}`);
