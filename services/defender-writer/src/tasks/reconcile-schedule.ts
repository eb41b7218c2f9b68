// The reconciliation's schedule: every WRITER_RECONCILE_INTERVAL_MS, and on demand (after an
// assignment, a cap refusal, an operator's request); runs never overlap.
import type { Logger } from '@octi-defender/platform';
import type { Drift } from '../core/drift.ts';

/** Runs `run` every `intervalMs` (0: never) and on demand; runs never overlap. */
export class ReconcileSchedule {
  readonly #run: () => Promise<Drift | undefined>;
  readonly #intervalMs: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #current: Promise<Drift | undefined> | undefined;

  constructor(run: () => Promise<Drift | undefined>, intervalMs: number, logger: Logger) {
    this.#run = run;
    this.#intervalMs = intervalMs;
    this.#log = logger;
  }

  start(): void {
    if (this.#intervalMs <= 0 || this.#timer) return;
    this.#timer = setInterval(() => {
      this.runNow().catch((err: unknown) => this.#log.warn({ err }, 'scheduled reconciliation failed; next one at the next interval'));
    }, this.#intervalMs);
    this.#timer.unref();
  }

  runNow(): Promise<Drift | undefined> {
    this.#current ??= this.#run().finally(() => {
      this.#current = undefined;
    });
    return this.#current;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#current?.catch(() => undefined);
  }
}
