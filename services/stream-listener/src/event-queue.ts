// Bounded FIFO between the SSE reader and the Kafka publisher. Pushing never blocks (the reader is
// driven by the parser); instead the reader consults `hasRoom()` before pulling more bytes from the
// socket, so a slow Kafka turns into TCP backpressure on OpenCTI, never into unbounded memory.
export class EventQueue<T> {
  readonly capacity: number;
  readonly maxBytes: number;
  readonly #sizeOf: (item: T) => number;
  #items: T[] = [];
  #head = 0;
  #bytes = 0;
  #roomWaiters: Array<() => void> = [];
  #itemWaiters: Array<() => void> = [];

  /** Bounded by item count and by the summed `sizeOf` of the queued items, whichever is reached first. */
  constructor(capacity: number, maxBytes = Number.POSITIVE_INFINITY, sizeOf: (item: T) => number = () => 0) {
    this.capacity = capacity;
    this.maxBytes = maxBytes;
    this.#sizeOf = sizeOf;
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  hasRoom(): boolean {
    return this.size < this.capacity && this.#bytes < this.maxBytes;
  }

  push(item: T): void {
    this.#items.push(item);
    this.#bytes += this.#sizeOf(item);
    const waiters = this.#itemWaiters;
    if (waiters.length > 0) {
      this.#itemWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Resolves when the queue has room (immediately if it has). */
  waitForRoom(): Promise<void> {
    if (this.hasRoom()) return Promise.resolve();
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  /** Resolves when at least one item is queued, or when `signal` aborts. */
  waitForItems(signal?: AbortSignal): Promise<void> {
    if (this.size > 0 || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        signal?.removeEventListener('abort', done);
        const i = this.#itemWaiters.indexOf(done);
        if (i >= 0) this.#itemWaiters.splice(i, 1);
        resolve();
      };
      this.#itemWaiters.push(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  /** Up to `max` items after the first `skip`, without removing them (`drop` removes them once published). */
  peek(max: number, skip = 0): T[] {
    const from = this.#head + Math.min(skip, this.size);
    return this.#items.slice(from, from + Math.max(0, Math.min(max, this.size - skip)));
  }

  /** Removes the first `n` items. */
  drop(n: number): void {
    const end = this.#head + Math.min(n, this.size);
    for (let i = this.#head; i < end; i++) this.#bytes -= this.#sizeOf(this.#items[i] as T);
    this.#head = end;
    // Compact occasionally instead of shifting on every drop (O(1) amortised).
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    if (this.hasRoom() && this.#roomWaiters.length > 0) {
      const waiters = this.#roomWaiters;
      this.#roomWaiters = [];
      for (const w of waiters) w();
    }
  }
}
