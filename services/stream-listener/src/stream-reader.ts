// Reads one OpenCTI live stream over undici with our own SSE parser, adding what a production
// listener needs: the bearer token and OpenCTI's stream options on every request, resumption from
// our own position, exponential backoff with jitter, a heartbeat watchdog, slow retries for
// configuration errors, a bound on one event (a larger one is reported, not held, and the stream goes
// on), a rule for a position that keeps failing, and backpressure: the response body is only read
// while the event queue has room.
import { Agent, fetch as undiciFetch } from 'undici';
import { StateMachine } from '@octi-defender/platform';
import { backoffDelay, type BackoffPolicy } from './backoff.ts';
import { compareEventIds, EVENT_ID } from '@octi-defender/indicators';
import { READER_STATES, type ReaderState, type ReconnectCause } from './reader-state.ts';
import { SseParser, type PartialEvent, type SseMessage } from './sse-parser.ts';

export interface RawStreamEvent {
  readonly streamId: string;
  /** SSE `id:` (the Redis stream id); empty when the server sent none. */
  readonly id: string;
  /** SSE `event:` name. */
  readonly name: string;
  readonly data: string;
  /**
   * The event was not read whole: over the size bound (`oversized_event`), or the position it sits
   * at failed `maxPositionFailures` connections in a row (`stuck_position`). `data` is empty.
   */
  readonly skipped?: { readonly reason: 'oversized_event' | 'stuck_position'; readonly bytes: number; readonly head: string };
  /** On `connected`: the position this connection resumed from (undefined = live). */
  readonly from?: string;
}

/** What a state change reports: on `backoff` and `config-error`, why and when the reader reconnects. */
export interface ReaderStateDetail {
  readonly status?: number;
  readonly message?: string;
  readonly delayMs?: number;
  readonly cause?: ReconnectCause;
}

/** HTTP statuses that mean the configuration is wrong (token, stream id, stopped stream), not the network. */
export const CONFIG_ERROR_STATUSES: ReadonlySet<number> = new Set([401, 403, 404, 410]);

export interface StreamReaderOptions {
  readonly baseUrl: string;
  readonly token: string;
  readonly streamId: string;
  readonly listenDelete: boolean;
  readonly noDependencies: boolean;
  readonly withInferences: boolean;
  /** Where to resume: called on every (re)connection. `recover` is an ISO date, or undefined. */
  readonly position: () => { from: string | undefined; recover: string | undefined };
  readonly onEvent: (event: RawStreamEvent) => void;
  /** True while the consumer can take more events; the body is not read otherwise. */
  readonly hasRoom: () => boolean;
  readonly waitForRoom: () => Promise<void>;
  readonly backoff: BackoffPolicy;
  readonly configErrorRetryMs: number;
  readonly heartbeatTimeoutMs: number;
  /** Events larger than this are skipped (reported with their size and head), never held. */
  readonly maxEventBytes: number;
  /** Connections in a row that end inside the same event before that event is skipped. */
  readonly maxPositionFailures: number;
  readonly tls?: { readonly rejectUnauthorized: boolean; readonly ca?: string };
  readonly onStateChange?: (state: ReaderState, detail: ReaderStateDetail) => void;
}

export class StreamReader {
  readonly #o: StreamReaderOptions;
  readonly #agent: Agent;
  #connection: AbortController | undefined;
  #parser: SseParser | undefined;
  readonly #state: StateMachine<ReaderState>;
  #attempt = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #lastActivity = 0;
  #waitingForRoom = false;
  /** The event connections keep ending inside, and how many did in a row. */
  #failing: { id: string; count: number } | undefined;
  #lastSkipped: { id: string; reason: string } | undefined;

  constructor(options: StreamReaderOptions) {
    this.#o = options;
    this.#state = new StateMachine({ name: `stream reader ${options.streamId}`, transitions: READER_STATES, initial: 'idle' });
    this.#agent = new Agent({
      connect: { rejectUnauthorized: options.tls?.rejectUnauthorized ?? true, ...(options.tls?.ca ? { ca: options.tls.ca } : {}) },
      // A live stream is one long response: no body timeout, the watchdog covers silence.
      bodyTimeout: 0,
      headersTimeout: 30_000,
    });
  }

  get state(): ReaderState {
    return this.#state.state;
  }

  get streamId(): string {
    return this.#o.streamId;
  }

  /** The last event skipped by the size bound or the stuck-position rule, for the readiness detail. */
  get lastSkipped(): { id: string; reason: string } | undefined {
    return this.#lastSkipped;
  }

  start(): void {
    if (this.#state.state !== 'idle') return;
    this.#connect();
    const tick = Math.min(1000, Math.max(50, Math.floor(this.#o.heartbeatTimeoutMs / 4)));
    this.#watchdog = setInterval(() => this.#checkSilence(), tick);
  }

  /** Drops the current connection and reconnects at once from the current position (once started, until closed). */
  reconnect(cause: 'watchdog' | 'resync', message: string = cause): void {
    if (this.#state.state === 'idle' || this.#state.state === 'closed') return;
    this.#disconnect();
    this.#setState('backoff', { message, delayMs: 0, cause });
    this.#connect();
  }

  async close(): Promise<void> {
    if (this.#state.state === 'closed') return;
    this.#parser = undefined;
    this.#disconnect();
    clearInterval(this.#watchdog);
    this.#setState('closed', {});
    await this.#agent.close();
  }

  #setState(state: ReaderState, detail: ReaderStateDetail): void {
    this.#state.to(state);
    this.#o.onStateChange?.(state, detail);
  }

  #disconnect(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const parser = this.#parser;
    this.#parser = undefined;
    if (parser) this.#endedInside(parser.partial());
    this.#connection?.abort();
    this.#connection = undefined;
  }

  /**
   * The stuck-position rule: a connection that ends inside an event whose id is known counts
   * against that id; after `maxPositionFailures` in a row the event is skipped (reported as a
   * `stuck_position` event, after which the reader resumes from its id, i.e. after it). Ends between
   * events, or before an event's id arrived, are plain network failures and count for nothing.
   */
  #endedInside(partial: PartialEvent | undefined): void {
    if (!partial || partial.id === '') return;
    const count = this.#failing?.id === partial.id ? this.#failing.count + 1 : 1;
    if (count < this.#o.maxPositionFailures) {
      this.#failing = { id: partial.id, count };
      return;
    }
    this.#failing = undefined;
    this.#lastSkipped = { id: partial.id, reason: 'stuck_position' };
    this.#o.onEvent({
      streamId: this.#o.streamId,
      id: partial.id,
      name: partial.name || 'message',
      data: '',
      skipped: { reason: 'stuck_position', bytes: partial.bytes, head: partial.head },
    });
  }

  #url(from: string | undefined, recover: string | undefined): string {
    const url = new URL(`${this.#o.baseUrl}/stream/${encodeURIComponent(this.#o.streamId)}`);
    if (from !== undefined) url.searchParams.set('from', from);
    if (recover !== undefined) url.searchParams.set('recover', recover);
    return url.toString();
  }

  #connect(): void {
    this.#setState('connecting', {});
    this.#lastActivity = Date.now();
    const connection = new AbortController();
    this.#connection = connection;
    void this.#read(connection).catch((err: unknown) => {
      if (this.#connection === connection) this.#failed(undefined, (err as Error).message);
    });
  }

  async #read(connection: AbortController): Promise<void> {
    const { from, recover } = this.#o.position();
    const res = await undiciFetch(this.#url(from, recover), {
      headers: {
        accept: 'text/event-stream',
        authorization: `Bearer ${this.#o.token}`,
        'cache-control': 'no-cache',
        'listen-delete': String(this.#o.listenDelete),
        'no-dependencies': String(this.#o.noDependencies),
        'with-inferences': String(this.#o.withInferences),
      },
      signal: connection.signal,
      dispatcher: this.#agent,
    });
    if (this.#connection !== connection) return;
    const type = res.headers.get('content-type') ?? '';
    if (res.status !== 200 || !res.body || !type.startsWith('text/event-stream')) {
      await res.body?.cancel().catch(() => undefined);
      this.#failed(res.status, res.status === 200 ? `unexpected content type ${JSON.stringify(type)}` : res.statusText);
      return;
    }
    const parser = new SseParser({
      maxEventBytes: this.#o.maxEventBytes,
      onMessage: (m) => {
        if (this.#connection === connection) this.#message(m, from);
      },
    });
    this.#parser = parser;
    this.#lastActivity = Date.now();
    this.#setState('connected', {});
    const body = res.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    for (;;) {
      if (!this.#o.hasRoom()) {
        this.#waitingForRoom = true;
        await this.#o.waitForRoom();
        this.#waitingForRoom = false;
        this.#lastActivity = Date.now();
      }
      if (this.#connection !== connection) return;
      const { done, value } = await body.read();
      if (this.#connection !== connection) return;
      if (done) break;
      parser.feed(value);
    }
    this.#failed(undefined, 'the server ended the stream');
  }

  #failed(status: number | undefined, message: string | undefined): void {
    this.#disconnect();
    const configError = status !== undefined && CONFIG_ERROR_STATUSES.has(status);
    const delayMs = configError ? this.#o.configErrorRetryMs : backoffDelay(this.#o.backoff, this.#attempt++);
    this.#setState(configError ? 'config-error' : 'backoff', {
      ...(status !== undefined ? { status } : {}),
      ...(message !== undefined ? { message } : {}),
      delayMs,
      cause: configError ? 'config' : 'network',
    });
    this.#retryTimer = setTimeout(() => this.#connect(), delayMs);
  }

  #message(m: SseMessage, from: string | undefined): void {
    // Backoff restarts only once the server really streams: one that accepts and hangs up at once
    // keeps getting longer delays.
    this.#attempt = 0;
    this.#lastActivity = Date.now();
    if (this.#failing && EVENT_ID.test(m.id) && compareEventIds(m.id, this.#failing.id) > 0) this.#failing = undefined;
    if (m.oversized) this.#lastSkipped = { id: m.id, reason: 'oversized_event' };
    this.#o.onEvent({
      streamId: this.#o.streamId,
      id: m.id,
      name: m.name,
      data: m.data,
      ...(m.name === 'connected' && from !== undefined ? { from } : {}),
      ...(m.oversized ? { skipped: { reason: 'oversized_event' as const, bytes: m.oversized.bytes, head: m.oversized.head } } : {}),
    });
  }

  #checkSilence(): void {
    if (this.#state.state !== 'connected' || this.#waitingForRoom) return;
    if (Date.now() - this.#lastActivity > this.#o.heartbeatTimeoutMs) {
      this.reconnect('watchdog', `no event or heartbeat for ${this.#o.heartbeatTimeoutMs} ms`);
    }
  }
}
