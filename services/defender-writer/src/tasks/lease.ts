// The member's lease on its partitions: the group session as the consumer last renewed it. Every
// Defender call and every commit is made under it: an operation's calls are cancelled when it ends,
// and each HTTP request re-checks it right before it is sent (a check made when the operation
// started says nothing after a long quota wait, a Retry-After or a pause of the process).
import type { CallOptions } from '../defender/client.ts';

/** The member's lease ended (rebalance, eviction, a pause longer than the session): stop work for its partitions. */
export class LeaseLostError extends Error {
  constructor(reason: string) {
    super(`group lease lost: ${reason}`);
    this.name = 'LeaseLostError';
  }
}

export class Lease {
  readonly #remainingMs: () => number;
  /** Aborted when the lease is lost: the operations started under it stop. */
  #current = new AbortController();
  #timer: NodeJS.Timeout | undefined;

  /** `remainingMs`: how long the consumer's lease has left (≤ 0: none). */
  constructor(remainingMs: () => number) {
    this.#remainingMs = remainingMs;
  }

  remainingMs(): number {
    return this.#remainingMs();
  }

  get valid(): boolean {
    return this.#remainingMs() > 0;
  }

  /**
   * The options of one operation's Defender calls (a batch, a maintenance round, a reconciliation).
   * An operation started under a lost lease gets a new one only when the consumer holds a valid
   * lease again.
   */
  callOptions(): CallOptions {
    if (this.#current.signal.aborted && this.valid) this.#current = new AbortController();
    const lease = this.#current;
    this.#arm();
    return {
      signal: lease.signal,
      guard: () => {
        if (!lease.signal.aborted && !this.valid) this.lose('session lease expired');
        lease.signal.throwIfAborted();
      },
    };
  }

  /** The lease ended: every call and commit of the operations started under it stops. */
  lose(reason: string): void {
    if (this.#current.signal.aborted) return;
    clearTimeout(this.#timer);
    this.#current.abort(new LeaseLostError(reason));
  }

  close(): void {
    clearTimeout(this.#timer);
  }

  /** Aborts the calls in flight when the lease runs out without being renewed (heartbeats not getting through). */
  #arm(): void {
    clearTimeout(this.#timer);
    if (this.#current.signal.aborted) return;
    const remaining = this.#remainingMs();
    if (remaining <= 0) return this.lose('session lease expired');
    this.#timer = setTimeout(() => this.#arm(), remaining + 1).unref();
  }
}
