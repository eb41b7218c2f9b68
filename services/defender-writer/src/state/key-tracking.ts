// Per-key bookkeeping beside the states, for the keys of owned partitions only: a revoked partition's
// keys are the new owner's to count (kept here they would be counted on if the partition came back).

export class KeyTracking {
  /** Keys not yet in sync with Defender: the next round that sends plans them. */
  readonly pending = new Set<string>();
  /** Keys held back (foreign-indicator), planned again when a listing no longer shows the other's indicator. */
  readonly held = new Set<string>();
  /**
   * Keys whose applied indicator Defender no longer holds for us (a reconciliation found it missing,
   * or another creator's): every sending round forgets it again until a round commits that.
   */
  readonly forget = new Set<string>();
  /** Attempts of keys whose import failed per item for an unknown reason (by the hash that failed). */
  readonly attempts = new Map<string, { hash: string; n: number }>();
  readonly #partitionOf: (key: string) => number;

  constructor(partitionOf: (key: string) => number) {
    this.#partitionOf = partitionOf;
  }

  dropPartition(partition: number): void {
    for (const key of this.pending) if (this.#partitionOf(key) === partition) this.pending.delete(key);
    for (const key of this.held) if (this.#partitionOf(key) === partition) this.held.delete(key);
    for (const key of this.forget) if (this.#partitionOf(key) === partition) this.forget.delete(key);
    for (const key of this.attempts.keys()) if (this.#partitionOf(key) === partition) this.attempts.delete(key);
  }
}
