// The emulated Redis stream: a bounded ring buffer (like XADD MAXLEN) of events with `<ms>-<seq>` ids.
import type { StixObject } from './stix.ts';

export type EventKind = 'create' | 'update' | 'delete' | 'merge';

export interface LogEntry {
  /** Position since the emulator started; survives trimming so readers can tell they fell behind. */
  n: number;
  id: string;
  ms: number;
  seq: number;
  kind: EventKind | 'raw';
  /** create/update/merge: the object now; delete: the object just before deletion. */
  stix?: StixObject;
  /** update/merge: the object before, for the visibility rewrite. */
  previous?: StixObject;
  /** The `data:` line content, serialized once at append time. */
  json: string;
  /** Raw injected events bypass the filters and carry their own SSE event name. */
  rawEvent?: string;
}

export function parseStreamId(id: string): { ms: number; seq: number } | undefined {
  const match = /^(\d+)-(\d+)$/.exec(id);
  if (!match) return undefined;
  return { ms: Number(match[1]), seq: Number(match[2]) };
}

export class EventLog {
  readonly capacity: number;
  #entries: (LogEntry | undefined)[];
  #start = 0;
  #end = 0;
  #lastMs = 0;
  #lastSeq = -1;
  #listeners = new Set<() => void>();

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error('maxLength must be a positive integer');
    this.capacity = capacity;
    this.#entries = new Array<LogEntry | undefined>(capacity);
  }

  get firstN(): number {
    return this.#start;
  }
  get endN(): number {
    return this.#end;
  }
  get size(): number {
    return this.#end - this.#start;
  }

  get(n: number): LogEntry | undefined {
    if (n < this.#start || n >= this.#end) return undefined;
    return this.#entries[n % this.capacity];
  }

  first(): LogEntry | undefined {
    return this.get(this.#start);
  }
  last(): LogEntry | undefined {
    return this.get(this.#end - 1);
  }

  /** Next id strictly after every id handed out so far (events and heartbeat reservations). */
  #nextId(nowMs: number): { ms: number; seq: number } {
    if (nowMs > this.#lastMs) {
      this.#lastMs = nowMs;
      this.#lastSeq = 0;
    } else {
      this.#lastSeq += 1;
    }
    return { ms: this.#lastMs, seq: this.#lastSeq };
  }

  /**
   * The id an idle reader is at now: OpenCTI sets a synthetic `<now>-0` after an empty read. Reserving it
   * keeps later events strictly after it, so a client resuming from a heartbeat id misses nothing.
   */
  reserveNow(nowMs: number): string {
    if (nowMs > this.#lastMs) {
      this.#lastMs = nowMs;
      this.#lastSeq = 0;
    }
    return `${this.#lastMs}-${this.#lastSeq < 0 ? 0 : this.#lastSeq}`;
  }

  append(nowMs: number, entry: Omit<LogEntry, 'n' | 'id' | 'ms' | 'seq'>): LogEntry {
    const { ms, seq } = this.#nextId(nowMs);
    const full: LogEntry = { ...entry, n: this.#end, id: `${ms}-${seq}`, ms, seq };
    this.#entries[this.#end % this.capacity] = full;
    this.#end += 1;
    if (this.#end - this.#start > this.capacity) this.#start = this.#end - this.capacity;
    for (const listener of this.#listeners) listener();
    return full;
  }

  /** Drops all but the last `keep` entries (XTRIM MAXLEN); returns how many were dropped. */
  trim(keep: number): number {
    const start = Math.max(this.#start, this.#end - Math.max(0, keep));
    const dropped = start - this.#start;
    for (let n = this.#start; n < start; n++) this.#entries[n % this.capacity] = undefined;
    this.#start = start;
    return dropped;
  }

  /** Position of the first entry strictly after the given id (Redis XREAD semantics). */
  positionAfter(ms: number, seq: number): number {
    let lo = this.#start;
    let hi = this.#end;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const e = this.get(mid)!;
      if (e.ms < ms || (e.ms === ms && e.seq <= seq)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  onAppend(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
