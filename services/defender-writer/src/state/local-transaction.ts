// One local transaction per round: the state store's and the cap's changes (one SQLite database, plus
// the cap's in-memory sets) are made durable only after the round's Kafka commit succeeded, and rolled
// back otherwise, so the local copy never runs ahead of the changelog.
import type { CapIndex } from './cap.ts';
import type { StateStore } from './state-store.ts';

export class LocalTransaction {
  readonly #store: StateStore;
  readonly #cap: CapIndex;
  #open = true;

  private constructor(store: StateStore, cap: CapIndex) {
    this.#store = store;
    this.#cap = cap;
  }

  /** The store and the cap must share the database (the cap's table lives in the store's file). */
  static begin(store: StateStore, cap: CapIndex): LocalTransaction {
    store.begin();
    cap.begin();
    return new LocalTransaction(store, cap);
  }

  get open(): boolean {
    return this.#open;
  }

  /** When the database's COMMIT fails the transaction stays open: the caller's `rollback` undoes it. */
  commit(): void {
    if (!this.#open) return;
    this.#store.commit();
    this.#cap.commit();
    this.#open = false;
  }

  rollback(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#store.rollback();
    this.#cap.rollback();
  }
}
