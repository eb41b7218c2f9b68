// The processes `npm start` supervises: each runs on this Node.js (24) with the stdin guard preloaded,
// its output goes to a log file, and the supervisor keeps its last lines and problems (warn and
// above) for the live view, and the reason when it ends unexpectedly.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const GUARD = fileURLToPath(new URL('./guard.ts', import.meta.url));
const KEPT_LINES = 30;

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface Problem {
  readonly child: string;
  readonly level: 'warn' | 'error' | 'fatal';
  readonly text: string;
}

/** pino's JSON line → level and a one-line text; other lines → undefined. */
export function readLogLine(line: string): { level: string; text: string } | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const o = JSON.parse(line) as { level?: unknown; msg?: unknown; err?: { message?: unknown } };
    if (typeof o.level !== 'string') return undefined;
    const err = typeof o.err?.message === 'string' ? `: ${o.err.message}` : '';
    return { level: o.level, text: `${typeof o.msg === 'string' ? o.msg : ''}${err}` };
  } catch {
    return undefined;
  }
}

export class Child {
  readonly name: string;
  readonly logFile: string;
  readonly exited: Promise<Exit>;
  readonly #process: ChildProcess;
  readonly #log: WriteStream;
  readonly #lines: string[] = [];
  #stopping = false;

  constructor(opts: { name: string; script: string; args?: readonly string[]; env: NodeJS.ProcessEnv; logDir: string; onProblem: (p: Problem) => void }) {
    this.name = opts.name;
    this.logFile = join(opts.logDir, `${opts.name}.log`);
    this.#log = createWriteStream(this.logFile, { flags: 'a' });
    this.#process = spawn(process.execPath, ['--import', GUARD, opts.script, ...(opts.args ?? [])], {
      env: opts.env,
      // Its own process group: Ctrl-C reaches the supervisor only, which stops the processes in order.
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const closed = new Promise<void>((resolve) => this.#process.on('close', () => resolve()));
    this.exited = new Promise<Exit>((resolve) => {
      this.#process.on('error', (err) => {
        this.#keep(`could not start: ${err.message}`);
        resolve({ code: null, signal: null });
      });
      this.#process.on('exit', (code, signal) => {
        // After the output is read, so the reason of a crash is among the kept lines.
        void closed.then(() => {
          this.#log.end();
          resolve({ code, signal });
        });
      });
    });
    for (const stream of [this.#process.stdout, this.#process.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        this.#log.write(`${line}\n`);
        this.#keep(line);
        const entry = readLogLine(line);
        if (entry && (entry.level === 'warn' || entry.level === 'error' || entry.level === 'fatal')) {
          opts.onProblem({ child: this.name, level: entry.level, text: entry.text });
        }
      });
    }
  }

  get pid(): number | undefined {
    return this.#process.pid;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** Output lines this child printed last. */
  lastLines(): readonly string[] {
    return this.#lines;
  }

  /** Why it ended: its last error or fatal log line, else its last output line, and the exit status. */
  explain(exit: Exit): string {
    const status = exit.signal ? `killed by ${exit.signal}` : `exit code ${String(exit.code)}`;
    // A configuration error is several lines: all of them.
    const config = this.#lines.findIndex((l) => l.includes('Invalid configuration'));
    if (config >= 0) return `${this.name} refused its configuration (${status}):\n${this.#lines.slice(config).join('\n')}`;
    let reason: string | undefined;
    for (const line of this.#lines) {
      const entry = readLogLine(line);
      if (entry && (entry.level === 'error' || entry.level === 'fatal')) reason = entry.text;
    }
    // Else what it printed outside its log, e.g. an uncaught exception (its message, not the stack).
    reason ??= [...this.#lines].reverse().find((l) => l.trim() !== '' && !l.startsWith('{') && !/^\s+at /.test(l) && !l.startsWith('Node.js v'));
    return `${this.name} stopped (${status})${reason ? `: ${reason}` : ''}; its output: ${this.logFile}`;
  }

  /** SIGTERM (graceful), then SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(graceMs: number): Promise<Exit> {
    this.#stopping = true;
    if (this.#process.exitCode === null && this.#process.signalCode === null) {
      this.#process.kill('SIGTERM');
      const timer = setTimeout(() => this.#process.kill('SIGKILL'), graceMs);
      const exit = await this.exited;
      clearTimeout(timer);
      return exit;
    }
    return this.exited;
  }

  #keep(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > KEPT_LINES) this.#lines.shift();
  }
}
