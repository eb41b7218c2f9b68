// What the emulator was asked: a bounded log of requests and per-endpoint counters that are never trimmed.
import { API_ENDPOINTS, type Endpoint } from './endpoints.ts';
import type { FaultSpec } from './faults.ts';

export interface RecordedRequest {
  seq: number;
  /** Arrival, in emulated time (the clock the rate windows use). */
  time: string;
  method: string;
  path: string;
  /** The query string as sent (`?$filter=…`), when there is one. */
  query?: string;
  endpoint: Endpoint | 'unknown';
  clientId: string | undefined;
  status: number;
  /** Items in an import or BatchDelete body. */
  items?: number;
  body?: unknown;
  fault?: FaultSpec['type'];
  /** Imports: the `failureReason` of each item answered `isFailed` (absent when none failed). */
  failures?: string[];
}

export interface EndpointStats {
  calls: number;
  items: number;
  statuses: Record<string, number>;
}

const emptyStats = (): Record<Endpoint, EndpointStats> =>
  Object.fromEntries((['token', ...API_ENDPOINTS] as Endpoint[]).map((e) => [e, { calls: 0, items: 0, statuses: {} }])) as Record<Endpoint, EndpointStats>;

export class RequestLog {
  readonly #max: number;
  readonly #now: () => number;
  #log: RecordedRequest[] = [];
  #seq = 0;
  #counters = emptyStats();

  /** `max`: requests kept for list(); the counters are never trimmed. */
  constructor(max: number, now: () => number) {
    this.#max = max;
    this.#now = now;
  }

  record(entry: Omit<RecordedRequest, 'seq' | 'time'>): void {
    this.#seq += 1;
    this.#log.push({ seq: this.#seq, time: new Date(this.#now()).toISOString(), ...entry });
    if (this.#log.length > this.#max) this.#log = this.#log.slice(this.#log.length - this.#max);
    if (entry.endpoint === 'unknown') return;
    const s = this.#counters[entry.endpoint];
    s.calls += 1;
    s.items += entry.items ?? 0;
    s.statuses[entry.status] = (s.statuses[entry.status] ?? 0) + 1;
  }

  /** The recorded requests (of one endpoint when given), oldest first. */
  list(endpoint?: string | null): RecordedRequest[] {
    return endpoint === undefined || endpoint === null ? [...this.#log] : this.#log.filter((r) => r.endpoint === endpoint);
  }

  /** The live counters (copy them before handing them out of the emulator). */
  stats(): Record<Endpoint, EndpointStats> {
    return this.#counters;
  }

  clear(): void {
    this.#log = [];
    this.#counters = emptyStats();
  }
}
