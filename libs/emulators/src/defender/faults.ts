// Injected faults: which requests they hit (endpoint, body text, seeded rate, calls, emulated duration),
// how each answers, and the history a test reads afterwards.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from '../http.ts';
import type { Random } from '../opencti/stix.ts';
import { apiError } from './api-error.ts';
import { API_ENDPOINTS, type Endpoint } from './endpoints.ts';

export interface FaultSpec {
  /** status: answer `status` (default 503); latency: delay then answer normally; timeout: never answer;
   *  drop: destroy the connection; unauthorized: 401 even for valid tokens (a "401 storm");
   *  item: an import answers 200 with the matching items failed (`isFailed`, `failureReason` = `message`),
   *  the others imported (items match when their JSON contains `bodyIncludes`; all when unset). */
  type: 'status' | 'latency' | 'timeout' | 'drop' | 'unauthorized' | 'item';
  endpoints?: Endpoint[];
  status?: number;
  latencyMs?: number;
  /** Probability per matching request. Default 1. */
  rate?: number;
  /** Stop after this many affected requests. */
  calls?: number;
  /** Stop after this many milliseconds of emulated time (advanceClock moves it too). */
  durationMs?: number;
  /** status faults: Defender's `error.code` (default from the status, as in common-errors.md, e.g. 400 BadRequest). */
  code?: string;
  /** status faults: Defender's `error.message`; item faults: the `failureReason`. Default "Injected fault.". */
  message?: string;
  /** status faults: a Retry-After header, in seconds. */
  retryAfterSec?: number;
  /**
   * Only requests whose body contains this text (API endpoints; e.g. one indicator value, to make
   * every import carrying it a whole-call 400 as a malformed item would, while the rest pass).
   */
  bodyIncludes?: string;
}

export interface FaultHit {
  id: string;
  spec: FaultSpec;
  /** Requests this fault answered (or delayed, for latency). */
  hits: number;
}

interface ActiveFault extends FaultSpec {
  id: string;
  used: number;
  until: number | undefined;
}

const FAULT_TYPES: ReadonlySet<string> = new Set(['status', 'latency', 'timeout', 'drop', 'unauthorized', 'item']);

/** Defender's error code for an injected status (research/defender-api.md §2.6). */
const FAULT_CODES: Record<number, string> = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 429: 'TooManyRequests', 503: 'ServiceUnavailable' };

const DEFAULT_MESSAGE = 'Injected fault.';

/** What a request fault did: the status recorded (0 when there is none), or nothing (latency: go on). */
type FaultOutcome = { answered: true; status: number; type: FaultSpec['type'] } | { answered: false };

export class FaultInjector {
  readonly #random: Random;
  readonly #now: () => number;
  #active: ActiveFault[] = [];
  // Outlives clear() and expiry: a test asks afterwards whether its fault hit anything.
  #history: FaultHit[] = [];

  constructor(random: Random, now: () => number) {
    this.#random = random;
    this.#now = now;
  }

  add(spec: FaultSpec): string {
    if (!FAULT_TYPES.has(spec.type)) throw new HttpError(400, `unknown fault type ${String(spec.type)}`);
    const id = randomUUID();
    this.#active.push({ ...spec, id, used: 0, until: spec.durationMs === undefined ? undefined : this.#now() + spec.durationMs });
    this.#history.push({ id, spec: { ...spec }, hits: 0 });
    return id;
  }

  /** Ends every fault; the history stays. */
  clear(): void {
    this.#active = [];
  }

  /** Ends every fault and forgets the history. */
  reset(): void {
    this.#active = [];
    this.#history = [];
  }

  /** Every fault added since the last reset, with how many requests it answered (the live records). */
  history(): FaultHit[] {
    return this.#history;
  }

  /** Whether a fault on this API endpoint looks into request bodies (so the body must be read first). */
  readsBody(endpoint: Endpoint): boolean {
    return endpoint !== 'token' && this.#active.some((f) => f.bodyIncludes !== undefined && (f.endpoints ?? API_ENDPOINTS).includes(endpoint));
  }

  /**
   * Applies the request faults that hit this request, in the order they were added: a latency delays
   * and goes on, any other answers (or never answers) and ends the request. Item faults are left to
   * the import handler (failItem).
   */
  async apply(endpoint: Endpoint, body: string | undefined, req: IncomingMessage, res: ServerResponse): Promise<FaultOutcome> {
    for (const fault of this.#pick(endpoint, body)) {
      if (fault.type === 'item') continue;
      fault.used += 1;
      const hit = this.#history.find((h) => h.id === fault.id);
      if (hit) hit.hits = fault.used;
      if (fault.type === 'latency') {
        await new Promise((r) => setTimeout(r, fault.latencyMs ?? 1000));
        continue;
      }
      const status = fault.type === 'status' ? (fault.status ?? 503) : fault.type === 'unauthorized' ? 401 : 0;
      if (fault.type === 'drop') req.socket.destroy();
      else if (fault.type === 'unauthorized') apiError(res, 401, 'Unauthorized', 'The access token is invalid or has expired.');
      else if (fault.type === 'status') {
        const headers: Record<string, string> = fault.retryAfterSec === undefined ? {} : { 'retry-after': String(fault.retryAfterSec) };
        apiError(res, status, fault.code ?? FAULT_CODES[status] ?? 'InternalServerError', fault.message ?? DEFAULT_MESSAGE, headers);
      }
      // timeout: the socket stays open until the client gives up or the emulator closes.
      return { answered: true, status, type: fault.type };
    }
    return { answered: false };
  }

  /** The item faults of one import call, as they stand when it starts. */
  itemFaults(): ItemFaults {
    const faults = this.#active.filter((f) => f.type === 'item' && (f.endpoints ?? API_ENDPOINTS).includes('import'));
    return {
      failItem: (item: unknown): string | undefined => {
        const text = JSON.stringify(item);
        const failing = faults.find((f) => (f.calls === undefined || f.used < f.calls) && (f.bodyIncludes === undefined || text.includes(f.bodyIncludes)) && this.#random.next() < (f.rate ?? 1));
        if (!failing) return undefined;
        failing.used += 1;
        return failing.message ?? DEFAULT_MESSAGE;
      },
    };
  }

  /** Drops used-up and expired faults, then the ones that hit this request (each draws the seeded rate). */
  #pick(endpoint: Endpoint, body: string | undefined): ActiveFault[] {
    const t = this.#now();
    this.#active = this.#active.filter((f) => (f.until === undefined || f.until > t) && (f.calls === undefined || f.used < f.calls));
    return this.#active.filter((f) =>
      (f.endpoints ?? API_ENDPOINTS).includes(endpoint) && (f.bodyIncludes === undefined || (body?.includes(f.bodyIncludes) ?? false)) && this.#random.next() < (f.rate ?? 1)
    );
  }
}

interface ItemFaults {
  /** The failureReason when an item fault fails this import item (counted against its calls), else undefined. */
  failItem(item: unknown): string | undefined;
}
