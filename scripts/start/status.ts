// The operator's status in the live view: `octi-defender status --json` run as an operator runs it
// (the bin as a child process, with the writer's environment: its brokers, topics and tenant) every
// few seconds; the view shows what it says needs attention, or that nothing does.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../services/cli/src/bin.ts', import.meta.url));
/** A status run reads a few topics; one that takes longer than this is abandoned (the next one tries again). */
const RUN_TIMEOUT_MS = 20_000;

export interface OperatorStatus {
  /** `octi-defender status`'s exit code: 0 nothing needs attention, 1 something does, else it could not tell. */
  readonly exitCode: number;
  /** What needs attention, one line each (`subject: message`). */
  readonly attention: readonly string[];
}

/** The status from the command's JSON output and exit code (pure: tested without Kafka). */
export function readStatus(stdout: string, exitCode: number): OperatorStatus {
  try {
    const report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as { findings?: { attention?: boolean; subject?: string; message?: string }[] };
    const attention = (report.findings ?? []).filter((f) => f.attention === true).map((f) => `${f.subject ?? '?'}: ${f.message ?? ''}`);
    return { exitCode, attention };
  } catch {
    return { exitCode: exitCode === 0 ? 2 : exitCode, attention: ['octi-defender status gave no report'] };
  }
}

/** Runs the status command every `everyMs`; `latest` is the last answer (undefined before the first). */
export class StatusWatch {
  latest: OperatorStatus | undefined;
  readonly #env: NodeJS.ProcessEnv;
  readonly #everyMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(env: NodeJS.ProcessEnv, everyMs: number) {
    this.#env = env;
    this.#everyMs = everyMs;
  }

  start(): void {
    const run = (): void => {
      if (this.#running) return;
      this.#running = true;
      const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', BIN, 'status', '--json'], {
        env: { PATH: process.env.PATH ?? '', ...this.#env },
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const kill = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
      child.on('close', (code) => {
        clearTimeout(kill);
        this.#running = false;
        this.latest = readStatus(out, code ?? 2);
      });
      child.on('error', () => {
        clearTimeout(kill);
        this.#running = false;
      });
    };
    this.#timer = setInterval(run, this.#everyMs);
    this.#timer.unref();
    run();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
