// The active-indicator cap: of all keys that want to be in Defender, only the `capacity` strongest
// (score, then latest) are admitted; the rest wait and are admitted again when room frees. The
// candidates live in an SQLite table (the writer's local state database, or an in-memory one) whose
// index orders them by strength, so memory does not grow with the number of waiting keys and each
// change costs O(log n). The admitted keys (at most the capacity) are also kept in memory: whether a
// key is admitted is asked for every key a plan examines.
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { Strength } from '../core/claims.ts';

interface Row {
  readonly key: string;
  readonly score: number;
  readonly at: number;
}

/** > 0 when `a` is stronger; keys break ties (the smaller one is stronger) so the order is total. */
function stronger(a: Row, b: Row): number {
  return a.score - b.score || a.at - b.at || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0);
}

interface CapIndexOptions {
  /** The database holding the `cap` table; default: a private in-memory database. */
  readonly db?: DatabaseSync;
  /** The commands partition of a key, so a revoked partition's candidates can be dropped at once. */
  readonly partitionOf?: (key: string) => number;
}

export class CapIndex {
  #capacity: number;
  /** The admitted keys, as the table's `admitted` column says. */
  readonly #admitted = new Set<string>();
  readonly #partitionOf: (key: string) => number;
  /** Keys whose admission changed and whose Defender state has not been confirmed since. */
  readonly #dirty = new Set<string>();
  /**
   * While a local transaction is open (`begin`): each key's membership of the two sets before its
   * first change, restored by `rollback` (the table itself is rolled back with the database).
   */
  #journal: Map<string, { admitted: boolean; dirty: boolean }> | undefined;
  readonly #upsert: StatementSync;
  readonly #remove: StatementSync;
  readonly #has: StatementSync;
  readonly #setAdmitted: StatementSync;
  readonly #weakest: StatementSync;
  readonly #strongestWaiting: StatementSync;
  readonly #count: StatementSync;
  readonly #countWaiting: StatementSync;
  readonly #dropIn: StatementSync;

  constructor(capacity: number, opts: CapIndexOptions = {}) {
    this.#capacity = Math.max(0, Math.floor(capacity));
    this.#partitionOf = opts.partitionOf ?? (() => 0);
    const db = opts.db ?? new DatabaseSync(':memory:');
    db.exec(`
      DROP TABLE IF EXISTS cap;
      CREATE TABLE cap (part INTEGER NOT NULL, key TEXT NOT NULL, score REAL NOT NULL, at REAL NOT NULL, admitted INTEGER NOT NULL, PRIMARY KEY (part, key)) WITHOUT ROWID;
      CREATE INDEX cap_strength ON cap (admitted, score, at, key DESC);
    `);
    // Keyed by partition first (a key has one partition), so that a revoked partition is one range of
    // the primary key and no third b-tree is updated on every change.
    this.#upsert = db.prepare('INSERT INTO cap (part, key, score, at, admitted) VALUES (?, ?, ?, ?, 0) ON CONFLICT (part, key) DO UPDATE SET score = excluded.score, at = excluded.at');
    this.#remove = db.prepare('DELETE FROM cap WHERE part = ? AND key = ?');
    this.#has = db.prepare('SELECT 1 FROM cap WHERE part = ? AND key = ?');
    this.#setAdmitted = db.prepare('UPDATE cap SET admitted = ? WHERE part = ? AND key = ?');
    // Both walk cap_strength: forwards for the weakest admitted, backwards for the strongest waiting.
    this.#weakest = db.prepare('SELECT key, score, at FROM cap WHERE admitted = 1 ORDER BY score ASC, at ASC, key DESC LIMIT 1');
    this.#strongestWaiting = db.prepare('SELECT key, score, at FROM cap WHERE admitted = 0 ORDER BY score DESC, at DESC, key ASC LIMIT 1');
    this.#count = db.prepare('SELECT count(*) AS n FROM cap');
    this.#countWaiting = db.prepare('SELECT count(*) AS n FROM cap WHERE admitted = 0');
    this.#dropIn = db.prepare('DELETE FROM cap WHERE part = ?');
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Called on rebalance with the writer's share of the tenant's cap. */
  setCapacity(capacity: number): void {
    this.#capacity = Math.max(0, Math.floor(capacity));
  }

  /** Keys that want to be in Defender (admitted or waiting). */
  get size(): number {
    return Number((this.#count.get() as { n: number }).n);
  }

  /** Keys that want to be in Defender and wait for room (over-cap). */
  waitingCount(): number {
    return Number((this.#countWaiting.get() as { n: number }).n);
  }

  get admittedCount(): number {
    return this.#admitted.size;
  }

  isAdmitted(key: string): boolean {
    return this.#admitted.has(key);
  }

  has(key: string): boolean {
    return this.#has.get(this.#partitionOf(key), key) !== undefined;
  }

  /** The key wants to be in Defender with this strength. New keys wait until `settle`. */
  set(key: string, strength: Strength): void {
    this.#upsert.run(this.#partitionOf(key), key, strength.score, strength.at);
  }

  /** The key no longer wants to be in Defender. */
  delete(key: string): void {
    if (this.#admitted.has(key) || this.#dirty.has(key)) this.#note(key);
    this.#remove.run(this.#partitionOf(key), key);
    // Both hold only keys of the table.
    this.#dirty.delete(key);
    this.#admitted.delete(key);
  }

  /** Forgets every candidate of a revoked partition (never inside a local transaction). */
  dropPartition(partition: number): void {
    if (this.#journal) throw new Error('a partition is dropped inside a local transaction');
    for (const key of this.#dirty) if (this.#partitionOf(key) === partition) this.#dirty.delete(key);
    for (const key of this.#admitted) if (this.#partitionOf(key) === partition) this.#admitted.delete(key);
    this.#dropIn.run(partition);
  }

  #move(key: string, admitted: boolean): void {
    this.#note(key);
    this.#setAdmitted.run(admitted ? 1 : 0, this.#partitionOf(key), key);
    if (admitted) this.#admitted.add(key);
    else this.#admitted.delete(key);
    this.#dirty.add(key);
  }

  /**
   * Admits the strongest keys up to the capacity and evicts the weakest above it; the keys whose
   * admission changed join the dirty set until `confirm`. Returns the dirty keys.
   */
  settle(): ReadonlySet<string> {
    for (;;) {
      const weakest = this.#weakest.get() as Row | undefined;
      const best = this.#strongestWaiting.get() as Row | undefined;
      if (weakest && this.#admitted.size > this.#capacity) {
        this.#move(weakest.key, false);
      } else if (best && this.#admitted.size < this.#capacity) {
        this.#move(best.key, true);
      } else if (best && weakest && stronger(best, weakest) > 0) {
        this.#move(weakest.key, false);
        this.#move(best.key, true);
      } else {
        break;
      }
    }
    return this.#dirty;
  }

  /** Defender now matches the key's admission. */
  confirm(key: string): void {
    if (!this.#dirty.has(key)) return;
    this.#note(key);
    this.#dirty.delete(key);
  }

  /** Starts journaling the in-memory sets, for the local transaction the database has just begun. */
  begin(): void {
    this.#journal = new Map();
  }

  commit(): void {
    this.#journal = undefined;
  }

  /** The database rolled back: the in-memory sets go back to what they were at `begin`. */
  rollback(): void {
    for (const [key, was] of this.#journal ?? []) {
      if (was.admitted) this.#admitted.add(key);
      else this.#admitted.delete(key);
      if (was.dirty) this.#dirty.add(key);
      else this.#dirty.delete(key);
    }
    this.#journal = undefined;
  }

  #note(key: string): void {
    if (this.#journal && !this.#journal.has(key)) this.#journal.set(key, { admitted: this.#admitted.has(key), dirty: this.#dirty.has(key) });
  }
}
