// The active-indicator cap: of all keys that want to be in Defender, only the `capacity` strongest
// (score, then latest) are admitted; the rest wait and are admitted again when room frees. Two heaps
// with lazy deletion keep each change O(log n) however large the waiting set grows.
import { compareStrength, type Strength } from './claims.ts';

interface Entry {
  readonly key: string;
  readonly strength: Strength;
  readonly version: number;
}

/** > 0 when `a` is stronger; keys break ties so the order is total and stable. */
function stronger(a: Entry, b: Entry): number {
  return compareStrength(a.strength, b.strength) || (a.key < b.key ? 1 : a.key > b.key ? -1 : 0);
}

class Heap {
  readonly #items: Entry[] = [];
  readonly #before: (a: Entry, b: Entry) => boolean;

  constructor(before: (a: Entry, b: Entry) => boolean) {
    this.#before = before;
  }

  get length(): number {
    return this.#items.length;
  }

  peek(): Entry | undefined {
    return this.#items[0];
  }

  push(e: Entry): void {
    const a = this.#items;
    a.push(e);
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.#before(a[i] as Entry, a[p] as Entry)) break;
      [a[i], a[p]] = [a[p] as Entry, a[i] as Entry];
      i = p;
    }
  }

  pop(): Entry | undefined {
    const a = this.#items;
    const top = a[0];
    const last = a.pop();
    if (a.length === 0 || last === undefined) return top;
    a[0] = last;
    for (let i = 0; ; ) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && this.#before(a[l] as Entry, a[m] as Entry)) m = l;
      if (r < a.length && this.#before(a[r] as Entry, a[m] as Entry)) m = r;
      if (m === i) break;
      [a[i], a[m]] = [a[m] as Entry, a[i] as Entry];
      i = m;
    }
    return top;
  }

  /** Keeps only the entries `live` accepts (drops the lazily deleted ones). */
  compact(live: (e: Entry) => boolean): void {
    const kept = this.#items.filter(live);
    this.#items.length = 0;
    for (const e of kept) this.push(e);
  }
}

export class CapIndex {
  #capacity: number;
  #version = 0;
  readonly #entries = new Map<string, Entry & { admitted: boolean }>();
  #admittedCount = 0;
  readonly #admitted = new Heap((a, b) => stronger(a, b) < 0); // weakest on top
  readonly #waiting = new Heap((a, b) => stronger(a, b) > 0); // strongest on top
  /** Keys whose admission changed and whose Defender state has not been confirmed since. */
  readonly #dirty = new Set<string>();

  constructor(capacity: number) {
    this.#capacity = Math.max(0, Math.floor(capacity));
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Called on rebalance with the writer's share of the tenant's cap. */
  setCapacity(capacity: number): void {
    this.#capacity = Math.max(0, Math.floor(capacity));
  }

  get size(): number {
    return this.#entries.size;
  }

  get admittedCount(): number {
    return this.#admittedCount;
  }

  isAdmitted(key: string): boolean {
    return this.#entries.get(key)?.admitted ?? false;
  }

  has(key: string): boolean {
    return this.#entries.has(key);
  }

  /** The key wants to be in Defender with this strength. New keys wait until `settle`. */
  set(key: string, strength: Strength): void {
    const old = this.#entries.get(key);
    const e = { key, strength, version: ++this.#version, admitted: old?.admitted ?? false };
    this.#entries.set(key, e);
    (e.admitted ? this.#admitted : this.#waiting).push(e);
  }

  /** The key no longer wants to be in Defender (or its partition was revoked). */
  delete(key: string): void {
    const old = this.#entries.get(key);
    if (!old) return;
    this.#entries.delete(key);
    this.#dirty.delete(key);
    if (old.admitted) this.#admittedCount--;
  }

  #live(admitted: boolean): (e: Entry) => boolean {
    return (e) => {
      const cur = this.#entries.get(e.key);
      return cur !== undefined && cur.version === e.version && cur.admitted === admitted;
    };
  }

  #top(heap: Heap, admitted: boolean): Entry | undefined {
    const live = this.#live(admitted);
    for (let e = heap.peek(); e; e = heap.peek()) {
      if (live(e)) return e;
      heap.pop();
    }
    return undefined;
  }

  #move(e: Entry, admitted: boolean): void {
    const moved = { key: e.key, strength: e.strength, version: ++this.#version, admitted };
    this.#entries.set(e.key, moved);
    (admitted ? this.#admitted : this.#waiting).push(moved);
    this.#admittedCount += admitted ? 1 : -1;
    this.#dirty.add(e.key);
  }

  /**
   * Admits the strongest keys up to the capacity and evicts the weakest above it; the keys whose
   * admission changed join the dirty set until `confirm`. Returns the dirty keys.
   */
  settle(): ReadonlySet<string> {
    for (;;) {
      const weakest = this.#top(this.#admitted, true);
      const best = this.#top(this.#waiting, false);
      if (weakest && this.#admittedCount > this.#capacity) {
        this.#admitted.pop();
        this.#move(weakest, false);
      } else if (best && this.#admittedCount < this.#capacity) {
        this.#waiting.pop();
        this.#move(best, true);
      } else if (best && weakest && stronger(best, weakest) > 0) {
        this.#admitted.pop();
        this.#waiting.pop();
        this.#move(weakest, false);
        this.#move(best, true);
      } else {
        break;
      }
    }
    const live = this.#entries.size;
    if (this.#admitted.length + this.#waiting.length > 2 * live + 1024) {
      this.#admitted.compact(this.#live(true));
      this.#waiting.compact(this.#live(false));
    }
    return this.#dirty;
  }

  /** Defender now matches the key's admission. */
  confirm(key: string): void {
    this.#dirty.delete(key);
  }
}
