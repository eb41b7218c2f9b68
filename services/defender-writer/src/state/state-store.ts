// The per-key states of the writer's partitions. The compacted changelog topic is the source of
// truth; this is its local copy: an SQLite file (rebuilt from the changelog on every assignment,
// deleted on close) with an lru-cache of decoded states as the hot layer. Memory therefore stays
// flat however many keys the partitions hold; the cap's candidate table shares the database.
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { LRUCache } from 'lru-cache';
import type { KeyState } from '../core/plan.ts';
import { decodeState, encodeState } from '../core/state-codec.ts';

/** Decoded objects take about three times their JSON text in V8's heap (measured order of magnitude). */
const heapSize = (json: string): number => 3 * json.length + 64;

/**
 * Cached for a key the store does not hold: a plan looks a new key up several times (fold, cap,
 * diff, outcome, commit), and each miss would otherwise be a query.
 */
const ABSENT: KeyState = Object.freeze({ claims: Object.freeze([]) });

interface StateStoreOptions {
  /** Directory of the database file; ':memory:' keeps it in memory (tests). */
  readonly dir: string;
  /** Bytes of decoded states kept in memory (estimated from their encoded size). */
  readonly cacheBytes: number;
  readonly partitionOf: (key: string) => number;
}

export class StateStore {
  readonly db: DatabaseSync;
  readonly #path: string | undefined;
  readonly #cache: LRUCache<string, KeyState>;
  readonly #partitionOf: (key: string) => number;
  readonly #get: StatementSync;
  readonly #put: StatementSync;
  readonly #remove: StatementSync;
  readonly #dropIn: StatementSync;
  readonly #countApplied: StatementSync;
  readonly #inDefender: StatementSync;
  readonly #keysIn: StatementSync;
  #closed = false;
  /** The keys written by the open transaction (undefined: none open). */
  #touched: Set<string> | undefined;

  constructor(opts: StateStoreOptions) {
    this.#path = opts.dir === ':memory:' ? undefined : join(opts.dir, `defender-writer-state-${randomUUID()}.sqlite`);
    this.db = new DatabaseSync(this.#path ?? ':memory:');
    // A cache of the changelog, rebuilt on start: durability would only cost time, and no other
    // connection ever opens the file, so the lock is taken once instead of per statement. A rollback
    // journal stays, so that a failed transaction is rolled back (journal_mode OFF would make that
    // undefined; node:sqlite's defensive mode refuses it anyway), in a file: in memory it would hold
    // the original of every page a transaction changes, most of the key index when a partition is
    // restored next to others. PERSIST reuses one journal file instead of deleting it per transaction.
    // A rowid table, not WITHOUT ROWID: a state (~1 KB) is far above the twentieth of a page that
    // SQLite advises for the latter, where every insert of a new key split pages across the whole
    // file; rows are appended here and only the small key index is updated at random (a third of
    // the CPU for 200,000 new keys). Only the few keys Defender holds are in the in_defender index.
    // Memory: a page cache of 16 MiB (malloc) and no memory-mapped I/O, so the file (about 1 KB per
    // key) never becomes resident memory of the process.
    this.db.exec(`
      PRAGMA locking_mode = EXCLUSIVE;
      PRAGMA journal_mode = PERSIST;
      PRAGMA synchronous = OFF;
      PRAGMA cache_size = -16384;
      PRAGMA mmap_size = 0;
      CREATE TABLE state (
        key TEXT NOT NULL UNIQUE,
        part INTEGER NOT NULL,
        value TEXT NOT NULL,
        applied INTEGER NOT NULL,
        in_defender INTEGER NOT NULL
      );
      CREATE INDEX state_part ON state (part);
      CREATE INDEX state_in_defender ON state (applied) WHERE in_defender = 1;
    `);
    this.#cache = new LRUCache({ maxSize: opts.cacheBytes });
    this.#partitionOf = opts.partitionOf;
    this.#get = this.db.prepare('SELECT value FROM state WHERE key = ?');
    this.#put = this.db.prepare('INSERT OR REPLACE INTO state (key, part, value, applied, in_defender) VALUES (?, ?, ?, ?, ?)');
    this.#remove = this.db.prepare('DELETE FROM state WHERE key = ?');
    this.#dropIn = this.db.prepare('DELETE FROM state WHERE part = ?');
    this.#countApplied = this.db.prepare('SELECT count(*) AS n FROM state WHERE in_defender = 1 AND applied = 1');
    this.#inDefender = this.db.prepare('SELECT key, value FROM state WHERE in_defender = 1');
    this.#keysIn = this.db.prepare('SELECT key FROM state WHERE part = ?');
  }

  get(key: string): KeyState | undefined {
    const hot = this.#cache.get(key);
    if (hot) return hot === ABSENT ? undefined : hot;
    const row = this.#get.get(key) as { value: string } | undefined;
    if (!row) {
      this.#cache.set(key, ABSENT, { size: heapSize(key) });
      return undefined;
    }
    const s = decodeState(row.value);
    this.#cache.set(key, s, { size: heapSize(row.value) });
    return s;
  }

  /** Stores a state; `encoded` is its changelog value (encodeState), passed when already at hand. */
  put(key: string, s: KeyState, encoded = encodeState(s)): void {
    const applied = s.applied ? 1 : 0;
    this.#put.run(key, this.#partitionOf(key), encoded, applied, applied || s.staleIds?.length ? 1 : 0);
    this.#cache.set(key, s, { size: heapSize(encoded) });
    this.#touched?.add(key);
  }

  delete(key: string): void {
    this.#remove.run(key);
    this.#cache.delete(key);
    this.#touched?.add(key);
  }

  /** Runs `fn` in one local transaction (many writes cost one commit). */
  transaction<T>(fn: () => T): T {
    this.begin();
    try {
      const out = fn();
      this.commit();
      return out;
    } catch (err) {
      this.rollback();
      throw err;
    }
  }

  /** The same for an asynchronous `fn` (a restore streamed from Kafka); nothing else may use the store meanwhile. */
  async transactionAsync<T>(fn: () => Promise<T>): Promise<T> {
    this.begin();
    try {
      const out = await fn();
      this.commit();
      return out;
    } catch (err) {
      this.rollback();
      throw err;
    }
  }

  /**
   * Opens a transaction that spans awaits (a writer's round: plan, Defender calls, Kafka commit);
   * the caller serializes every use of the store meanwhile. Reads see its own writes.
   */
  begin(): void {
    this.db.exec('BEGIN');
    this.#touched = new Set();
  }

  commit(): void {
    this.db.exec('COMMIT');
    this.#touched = undefined;
  }

  rollback(): void {
    // A failed COMMIT may already have ended it.
    if (this.db.isTransaction) this.db.exec('ROLLBACK');
    // The cache may hold what was rolled back: only the keys the transaction wrote.
    for (const key of this.#touched ?? []) this.#cache.delete(key);
    this.#touched = undefined;
  }

  get inTransaction(): boolean {
    return this.#touched !== undefined;
  }

  /** The keys of one partition. */
  *keys(partition: number): Generator<string> {
    for (const row of this.#keysIn.iterate(partition)) yield (row as { key: string }).key;
  }

  /** Forgets a revoked partition (never inside a round's transaction: its rollback would bring it back). */
  dropPartition(partition: number): void {
    if (this.#touched) throw new Error('a partition is dropped inside a local transaction');
    this.#dropIn.run(partition);
    for (const key of this.#cache.keys()) if (this.#partitionOf(key) === partition) this.#cache.delete(key);
  }

  /** Keys whose state says Defender holds something of ours (an applied indicator or a superseded id). */
  *inDefender(): Generator<[string, KeyState]> {
    for (const row of this.#inDefender.iterate()) {
      const { key, value } = row as { key: string; value: string };
      // A key with a row is never cached as ABSENT.
      yield [key, this.#cache.get(key) ?? decodeState(value)];
    }
  }

  /** Keys whose indicator Defender holds. */
  appliedCount(): number {
    return Number((this.#countApplied.get() as { n: number }).n);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#cache.clear();
    this.db.close();
    if (this.#path) { for (const file of [this.#path, `${this.#path}-journal`]) rmSync(file, { force: true }); }
  }
}
