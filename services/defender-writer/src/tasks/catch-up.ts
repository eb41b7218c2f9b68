// Catching up with a backlog (decideCatchUp): batches fold into the state only until every partition
// caught up or the window ran out; then one sync plans what Defender holds again. The sync also comes
// when no batch follows (the stream went quiet within the window): a timer ends the catch-up then.
import { decideCatchUp, type Behind } from '../core/catch-up.ts';

interface CatchUpOptions {
  /** WRITER_CATCH_UP_LAG (0: never). */
  readonly lag: number;
  /** WRITER_CATCH_UP_MAX_MS. */
  readonly maxMs: number;
  /** The catch-up ended: what Defender holds is planned again. */
  readonly ended: () => void;
  /** The window ran out with no batch to end it: end it (`end()`) and sync. */
  readonly expired: () => void;
}

export class CatchUp {
  readonly #o: CatchUpOptions;
  #since: number | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(o: CatchUpOptions) {
    this.#o = o;
  }

  get active(): boolean {
    return this.#since !== undefined;
  }

  /** Whether the next batch is deferred, entering or ending a catch-up as the partitions say. */
  deferring(now: number, partitions: Iterable<Behind>): boolean {
    const decision = decideCatchUp({ now, since: this.#since, partitions, lag: this.#o.lag, maxMs: this.#o.maxMs });
    if (decision === 'enter') {
      this.#since = now;
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => this.#o.expired(), this.#o.maxMs).unref();
      return true;
    }
    if (decision === 'stay') return true;
    this.end();
    return false;
  }

  /** Ends a catch-up; false when none was running. */
  end(): boolean {
    clearTimeout(this.#timer);
    if (this.#since === undefined) return false;
    this.#since = undefined;
    this.#o.ended();
    return true;
  }

  close(): void {
    clearTimeout(this.#timer);
  }
}
