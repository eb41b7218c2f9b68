// Top frames of a V8 CPU profile (`--cpu-prof`, e.g. from `BENCH_PROFILE=1 npm run bench`): self
// time per function, and the same grouped by package or file, so that a report can name what bounds
// a figure. Usage: node bench/profile-top.ts <file.cpuprofile> [count]
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

const [file, countArg] = process.argv.slice(2);
if (!file) throw new Error('usage: node bench/profile-top.ts <file.cpuprofile> [count]');
const count = Number(countArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map<number, number>();
profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfUs.values()].reduce((a, b) => a + b, 0);

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
for (const [id, us] of selfUs) {
  const f = byId.get(id)?.callFrame;
  if (!f) continue;
  const key = `${f.functionName || '(anonymous)'}  ${where(f.url)}${f.url ? `:${f.lineNumber + 1}` : ''}`;
  fns.set(key, (fns.get(key) ?? 0) + us);
  const g = group(f.url);
  groups.set(g, (groups.get(g) ?? 0) + us);
}
const top = (m: Map<string, number>): string[] =>
  [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, count).map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
console.log(`${file}: ${(total / 1e6).toFixed(1)} s sampled\n\nself time by function:\n${top(fns).join('\n')}\n\nself time by package / file:\n${top(groups).join('\n')}`);
