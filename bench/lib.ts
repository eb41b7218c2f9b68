// Shared helpers of the `*.bench.ts` files: child processes measured from /proc (their own CPU and
// peak RSS, not the bench's), Prometheus scrapes, waits on conditions, percentiles, and the figures
// each bench hands to `npm run bench` (one JSON line per figure in BENCH_OUT) for the report.
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, openSync, readFileSync } from 'node:fs';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { parse as parseYaml } from 'yaml';

/** Quick mode (`npm run bench -- --quick`): everything small, to check that the report works. */
export const QUICK = process.env.BENCH_QUICK === '1';

/** A size from the environment, else the quick or the full default. */
export function size(name: string, quick: number, full: number): number {
  const v = process.env[name];
  return v === undefined || v === '' ? (QUICK ? quick : full) : Number(v);
}

export interface Figure {
  /** Report section: ceiling, listener, writer, calls, first-sync, latency, memory. */
  readonly section: string;
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** The target as text (`≥ 20,000`), and whether the value meets it. */
  readonly target?: string;
  readonly met?: boolean;
  /** What the figure was measured on (N, settings), shown beside it. */
  readonly note?: string;
}

/** Prints a figure and appends it to BENCH_OUT (the report's input) when set. */
export function figure(f: Figure): void {
  const met = f.met === undefined ? '' : f.met ? ' (target met)' : ' (target NOT met)';
  process.stdout.write(`  ${f.section} / ${f.name}: ${fmt(f.value)} ${f.unit}${f.target ? ` — target ${f.target}${met}` : ''}${f.note ? ` [${f.note}]` : ''}\n`);
  if (process.env.BENCH_OUT) appendFileSync(process.env.BENCH_OUT, `${JSON.stringify(f)}\n`);
}

export function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  return v.toLocaleString('en-US', { maximumFractionDigits: digits });
}

const CLK_TCK = 100; // Linux USER_HZ, what /proc/<pid>/stat counts in

export interface ProcStats {
  /** User + system CPU seconds of the process so far. */
  readonly cpuSec: number;
  /** Peak resident set (VmHWM) and current RSS, MiB. */
  readonly peakRssMb: number;
  readonly rssMb: number;
  /** The current RSS split: anonymous memory (heap, malloc) and file pages (mostly the node binary). */
  readonly rssAnonMb: number;
  readonly rssFileMb: number;
}

export function procStats(pid: number): ProcStats {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may contain spaces) start at state (field 3).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuSec = (Number(f[11]) + Number(f[12])) / CLK_TCK;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
  return { cpuSec, peakRssMb: kb('VmHWM'), rssMb: kb('VmRSS'), rssAnonMb: kb('RssAnon'), rssFileMb: kb('RssFile') };
}

/**
 * The runtime settings a service's Deployment gives its first container (`deploy/k8s/<component>/deployment.yaml`):
 * NODE_OPTIONS (heap limit, V8 flags) and the glibc MALLOC_* variables, so that a bench child runs
 * with exactly what is deployed. Returned as environment variables for `startService`.
 */
export function deployedRuntime(component: string): Record<string, string> {
  const path = new URL(`../deploy/k8s/${component}/deployment.yaml`, import.meta.url);
  const d = parseYaml(readFileSync(path, 'utf8')) as { spec: { template: { spec: { containers: { env?: { name: string; value?: string }[] }[] } } } };
  const out: Record<string, string> = {};
  for (const { name, value } of d.spec.template.spec.containers[0]?.env ?? []) {
    if (value !== undefined && (name === 'NODE_OPTIONS' || name.startsWith('MALLOC_'))) out[name] = value;
  }
  return out;
}

export interface Service {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<number | null>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Runs a TypeScript entry point (a service's main.ts, an emulator CLI) as a child process on this
 * Node, with only the given environment (plus PATH). `log` keeps its stdout in a file.
 */
export function startService(entry: string, env: Record<string, string>, opts: { nodeArgs?: readonly string[]; args?: readonly string[]; log?: string } = {}): Service {
  const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', ...(opts.nodeArgs ?? []), entry, ...(opts.args ?? [])], {
    stdio: ['ignore', opts.log ? openSync(opts.log, 'w') : 'ignore', 'inherit'],
    env: { PATH: process.env.PATH ?? '', ...env },
  });
  if (child.pid === undefined) throw new Error(`could not start ${entry}`);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    pid: child.pid,
    exited,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Node options of a service child for a profile: BENCH_PROFILE=1 (CPU), heap or snapshot (heap limits come from the Deployment, deployedRuntime). */
export function serviceNodeArgs(name: string): string[] {
  const args: string[] = [];
  const dir = process.env.BENCH_PROFILE_DIR ?? 'bench/profiles';
  if (process.env.BENCH_PROFILE === '1') args.push('--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`);
  if (process.env.BENCH_PROFILE === 'heap') args.push('--heap-prof', `--heap-prof-dir=${dir}`, `--heap-prof-name=${name}-${Date.now()}.heapprofile`);
  // A heap snapshot whenever the child gets SIGUSR2 (e.g. at its peak, mid-drain), in BENCH_PROFILE_DIR.
  if (process.env.BENCH_PROFILE === 'snapshot') args.push('--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${dir}`);
  return args;
}

/** Every sample of a Prometheus text exposition, summed over labels. */
export async function scrape(port: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
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

/** Polls `cond` until true; fails after `timeoutMs`, or at once when `service` exits. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number, service?: Service, everyMs = 100): Promise<void> {
  const end = performance.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (service && service.child.exitCode !== null) throw new Error(`${what}: the service exited with ${service.child.exitCode}`);
    if (performance.now() > end) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Nearest-rank percentile of an ascending list. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export interface CommittedCounter {
  /** Records read with read_committed so far, and when the last of them arrived (performance.now()). */
  count(): number;
  lastAt(): number;
  close(): Promise<void>;
}

/** Counts what is committed on a topic (raw kafkajs, read_committed, from the beginning). */
export async function countCommitted(brokers: readonly string[], topic: string): Promise<CommittedCounter> {
  const kafka = new Kafka({ brokers: [...brokers], clientId: 'bench-counter', logLevel: logLevel.NOTHING });
  const consumer: Consumer = kafka.consumer({ groupId: `bench-counter-${topic}-${process.pid}`, readUncommitted: false });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let n = 0;
  let last = 0;
  await consumer.run({
    eachBatchAutoResolve: true,
    eachBatch: ({ batch }) => {
      if (batch.messages.length > 0) {
        n += batch.messages.length;
        last = performance.now();
      }
      return Promise.resolve();
    },
  });
  return { count: () => n, lastAt: () => last, close: () => consumer.disconnect() };
}
