// Repairs after an assignment: what a previous owner (or this process before a crash) sent without
// committing is found by a reconciliation soon after. Debounced (a cascade of rebalances costs one
// listing), retried while it fails, and put off while catching up (the state is ahead of Defender on
// purpose then: the sync at the catch-up's end comes first). "Pending" is one fact: a repair asked
// for that no completed reconciliation has covered yet.
import type { Logger } from '@octi-defender/platform';
import type { WriterMetrics } from '../metrics.ts';

/**
 * Delay of the reconciliation after an assignment. It also lets the calls the previous owner sent
 * before its lease ended land first.
 */
const ASSIGN_RECONCILE_DELAY_MS = 10_000;

export class Repairs {
  readonly #reconcile: () => Promise<unknown>;
  readonly #m: WriterMetrics;
  readonly #log: Logger;
  /** Repairs asked for, and the last one a completed reconciliation covered. */
  #asked = 0;
  #done = 0;
  /** A reconciliation was put off by a catch-up: it runs when the catch-up ends. */
  #due = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(reconcile: () => Promise<unknown>, metrics: WriterMetrics, logger: Logger) {
    this.#reconcile = reconcile;
    this.#m = metrics;
    this.#log = logger;
  }

  get pending(): boolean {
    return this.#asked > this.#done;
  }

  /** The repairs asked for so far: a reconciliation that starts now covers them when it completes. */
  get asked(): number {
    return this.#asked;
  }

  /** After an assignment: a reconciliation soon, retried while it fails. */
  askSoon(): void {
    if (this.#closed) return;
    this.#asked++;
    this.#m.repairPending.set(1);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#reconcile().catch((err: unknown) => {
        this.#log.warn({ err }, 'reconciliation after an assignment failed; retrying');
        this.askSoon();
      });
    }, ASSIGN_RECONCILE_DELAY_MS).unref();
  }

  /** A reconciliation that started after `asked` repairs were asked for completed: those are done. */
  covered(asked: number): void {
    this.#done = Math.max(this.#done, asked);
    this.#m.repairPending.set(this.pending ? 1 : 0);
  }

  /** A catch-up put a reconciliation off. */
  putOff(): void {
    this.#due = true;
  }

  /** The catch-up ended: a reconciliation put off runs now (queued behind the sync's first round). */
  catchUpEnded(): void {
    if (!this.#due) return;
    this.#due = false;
    this.#reconcile().catch((err: unknown) => this.#log.warn({ err }, 'reconciliation after a catch-up failed'));
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }
}
