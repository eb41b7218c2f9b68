// The services as real child processes of their entry points, supervised the way Kubernetes runs a
// pod's container: restarted when it exits (with a growing back-off), and SIGKILLed then restarted
// when its liveness probe (GET /healthz) fails three times in a row. Restarts are counted.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '@octi-defender/kafka/testing';
import { backoffDelay } from '@octi-defender/platform';

const REPO = fileURLToPath(new URL('../', import.meta.url));
export const ENTRY = {
  listener: join(REPO, 'services/stream-listener/src/main.ts'),
  writer: join(REPO, 'services/defender-writer/src/main.ts'),
  reporter: join(REPO, 'services/sighting-reporter/src/main.ts'),
} as const;
const HOSTNAME_PRELOAD = join(REPO, 'e2e/hostname.ts');

const PROBE_PERIOD_MS = 1000;
const PROBE_FAILURES = 3;
// A container that has not answered its probe yet is starting (Kubernetes' startupProbe).
const STARTUP_GRACE_MS = 60_000;

export interface ProcessSpec {
  readonly name: string;
  readonly entry: string;
  readonly env: Record<string, string>;
  /** The host name the process sees (os.hostname()), as a pod's. */
  readonly hostname: string;
}

const live = new Set<ChildProcess>();
// However the suite ends (an error, process.exit on a signal), no service outlives it.
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export class Supervised {
  readonly spec: ProcessSpec;
  restarts = 0;
  /** Deliberate SIGKILLs by the scenario (faults), not counted as probe failures. */
  kills = 0;
  probeKills = 0;
  /** How the last incarnation ended (undefined while none has). */
  lastExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #port = 0;
  #stopped = false;
  #incarnation = 0;
  #log: WriteStream;
  #tail: string[] = [];
  #lineListeners = new Set<(line: string) => void>();
  #probe: NodeJS.Timeout | undefined;

  constructor(spec: ProcessSpec, logDir: string) {
    this.spec = spec;
    mkdirSync(logDir, { recursive: true });
    this.#log = createWriteStream(join(logDir, `${spec.name}.log`), { flags: 'a' });
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get port(): number {
    return this.#port;
  }

  get running(): boolean {
    return this.#child !== undefined && this.#child.exitCode === null && this.#child.signalCode === null;
  }

  /** Last lines of output (all incarnations). */
  tail(n = 40): string {
    return this.#tail.slice(-n).join('');
  }

  /** Calls `listener` for every output line until the returned function is called. */
  onLine(listener: (line: string) => void): () => void {
    this.#lineListeners.add(listener);
    return () => this.#lineListeners.delete(listener);
  }

  async start(): Promise<void> {
    this.#stopped = false;
    await this.#spawn();
  }

  async #spawn(): Promise<void> {
    this.#port = await freePort();
    this.#incarnation += 1;
    const incarnation = this.#incarnation;
    this.#log.write(`--- ${this.spec.name} incarnation ${incarnation} (${new Date().toISOString()})\n`);
    const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', '--import', HOSTNAME_PRELOAD, this.spec.entry], {
      env: { PATH: process.env.PATH ?? '', ...this.spec.env, HTTP_PORT: String(this.#port), E2E_HOSTNAME: this.spec.hostname },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    live.add(child);
    let partial = '';
    const onData = (c: Buffer): void => {
      const text = partial + c.toString();
      const lines = text.split('\n');
      partial = lines.pop() ?? '';
      for (const l of lines) {
        this.#log.write(`${l}\n`);
        this.#tail.push(`${l}\n`);
        for (const f of this.#lineListeners) f(l);
      }
      if (this.#tail.length > 400) this.#tail.splice(0, this.#tail.length - 200);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    this.#exited = new Promise<void>((resolve) => {
      child.on('exit', (code, signal) => {
        live.delete(child);
        this.lastExit = { code, signal };
        this.#log.write(`--- exit code=${code} signal=${signal}\n`);
        resolve();
        if (!this.#stopped && incarnation === this.#incarnation) void this.#restartAfterExit();
      });
    });
    this.#startProbe(child, incarnation);
  }

  async #restartAfterExit(): Promise<void> {
    clearInterval(this.#probe);
    this.restarts += 1;
    // CrashLoopBackOff, shortened: 0.5 s, doubling, at most 8 s.
    await sleep(backoffDelay({ baseMs: 500, maxMs: 8000, jitter: 'none' }, Math.max(0, this.restarts - 1)));
    if (!this.#stopped && !this.running) await this.#spawn();
  }

  #startProbe(child: ChildProcess, incarnation: number): void {
    clearInterval(this.#probe);
    const started = Date.now();
    let answered = false;
    let failures = 0;
    let busy = false;
    this.#probe = setInterval(() => {
      if (busy || incarnation !== this.#incarnation || child.exitCode !== null || child.signalCode !== null) return;
      busy = true;
      void fetch(`http://127.0.0.1:${this.#port}/healthz`, { signal: AbortSignal.timeout(PROBE_PERIOD_MS) })
        .then(async (res) => {
          await res.body?.cancel();
          return res.ok;
        })
        .catch(() => false)
        .then((ok) => {
          busy = false;
          if (ok) {
            answered = true;
            failures = 0;
            return;
          }
          if (!answered && Date.now() - started < STARTUP_GRACE_MS) return;
          failures += 1;
          if (failures >= PROBE_FAILURES && incarnation === this.#incarnation) {
            this.probeKills += 1;
            this.#log.write(`--- liveness probe failed ${failures} times: SIGKILL\n`);
            child.kill('SIGKILL');
          }
        });
    }, PROBE_PERIOD_MS);
  }

  /** Waits until the current incarnation answers GET /readyz with 200. */
  async waitReady(timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const ok = await fetch(`http://127.0.0.1:${this.#port}/readyz`, { signal: AbortSignal.timeout(1000) })
        .then(async (res) => {
          await res.body?.cancel();
          return res.ok;
        })
        .catch(() => false);
      if (ok) return;
      await sleep(250);
    }
    throw new Error(`${this.spec.name} not ready after ${timeoutMs / 1000} s:\n${this.tail(20)}`);
  }

  /**
   * kill -9 now; resolves once the process is gone. The supervisor restarts it, unless `restart` is
   * false: the node is lost with it (nothing restarts it until `start`).
   */
  async kill9(opts: { restart?: boolean } = {}): Promise<void> {
    if (!this.running) return;
    this.kills += 1;
    if (opts.restart === false) {
      this.#stopped = true;
      clearInterval(this.#probe);
    }
    this.#child?.kill('SIGKILL');
    await this.#exited;
  }

  /** A deliberate stop (SIGTERM, graceful shutdown), not restarted; SIGKILL after `graceMs`. */
  async stop(graceMs = 30_000): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#probe);
    if (this.running) {
      this.#child?.kill('SIGTERM');
      const timer = setTimeout(() => this.#child?.kill('SIGKILL'), graceMs);
      await this.#exited;
      clearTimeout(timer);
    }
  }

  /** Stops it and starts it again with other environment variables (a rollout), not a restart. */
  async redeploy(env: Record<string, string>): Promise<void> {
    await this.stop();
    (this.spec as { env: Record<string, string> }).env = { ...this.spec.env, ...env };
    await this.start();
  }

  async close(): Promise<void> {
    await this.stop(5000);
    await new Promise<void>((resolve) => this.#log.end(resolve));
  }
}
