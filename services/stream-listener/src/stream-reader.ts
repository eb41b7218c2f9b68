// Reads one OpenCTI live stream with `eventsource`, adding what a production listener needs:
// the bearer token and OpenCTI's stream options on every request, resumption from our own position
// (not the library's), exponential backoff with jitter instead of its fixed retry, a heartbeat
// watchdog, slow retries for configuration errors, and backpressure: the response body is only read
// while the event queue has room.
import { EventSource } from 'eventsource';
import { Agent, fetch as undiciFetch } from 'undici';
import { backoffDelay, type BackoffPolicy } from './backoff.ts';

export interface RawStreamEvent {
  readonly streamId: string;
  /** SSE `id:` (the Redis stream id); empty when the server sent none. */
  readonly id: string;
  /** SSE `event:` name. */
  readonly name: string;
  readonly data: string;
}

export type ReaderState = 'idle' | 'connecting' | 'connected' | 'backoff' | 'config-error' | 'closed';

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
  readonly maxEventBytes?: number;
  readonly tls?: { readonly rejectUnauthorized: boolean; readonly ca?: string };
  readonly onStateChange?: (state: ReaderState, detail: { status?: number; message?: string; delayMs?: number }) => void;
}

export class StreamReader {
  readonly #o: StreamReaderOptions;
  readonly #agent: Agent;
  #es: EventSource | undefined;
  #state: ReaderState = 'idle';
  #attempt = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  #lastActivity = 0;
  #waitingForRoom = false;

  constructor(options: StreamReaderOptions) {
    this.#o = options;
    this.#agent = new Agent({
      connect: { rejectUnauthorized: options.tls?.rejectUnauthorized ?? true, ...(options.tls?.ca ? { ca: options.tls.ca } : {}) },
      // A live stream is one long response: no body timeout, the watchdog covers silence.
      bodyTimeout: 0,
      headersTimeout: 30_000,
    });
  }

  get state(): ReaderState {
    return this.#state;
  }

  start(): void {
    if (this.#state !== 'idle') return;
    this.#connect();
    const tick = Math.min(1000, Math.max(50, Math.floor(this.#o.heartbeatTimeoutMs / 4)));
    this.#watchdog = setInterval(() => this.#checkSilence(), tick);
  }

  /** Drops the current connection and reconnects at once from the current position. */
  reconnect(reason: string): void {
    if (this.#state === 'closed') return;
    this.#disconnect();
    this.#setState('backoff', { message: reason, delayMs: 0 });
    this.#connect();
  }

  async close(): Promise<void> {
    this.#disconnect();
    clearInterval(this.#watchdog);
    this.#setState('closed', {});
    await this.#agent.close();
  }

  #setState(state: ReaderState, detail: { status?: number; message?: string; delayMs?: number }): void {
    this.#state = state;
    this.#o.onStateChange?.(state, detail);
  }

  #disconnect(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    const es = this.#es;
    this.#es = undefined;
    es?.close();
  }

  #url(): string {
    const { from, recover } = this.#o.position();
    const url = new URL(`${this.#o.baseUrl}/stream/${encodeURIComponent(this.#o.streamId)}`);
    if (from !== undefined) url.searchParams.set('from', from);
    if (recover !== undefined) url.searchParams.set('recover', recover);
    return url.toString();
  }

  #connect(): void {
    this.#setState('connecting', {});
    this.#lastActivity = Date.now();
    const route = (source: EventSource, event: MessageEvent): void => {
      if (this.#es === source) this.#message(event);
    };
    const es = new (class extends EventSource {
      // Every message goes through here, whatever its event name, so unknown names reach the
      // consumer (and its dead-letter topic) instead of being silently ignored by the library.
      override dispatchEvent(event: Event): boolean {
        if (event instanceof MessageEvent) {
          route(this, event);
          return true;
        }
        return super.dispatchEvent(event);
      }
    })(this.#url(), {
      fetch: (input, init) => this.#fetch(input, init),
      // Bounds the memory one event may take; past it the connection fails and is retried.
      maxBufferSize: this.#o.maxEventBytes ?? 16 * 1024 * 1024,
    });
    this.#es = es;
    es.addEventListener('open', () => {
      if (this.#es !== es) return;
      this.#lastActivity = Date.now();
      this.#setState('connected', {});
    });
    es.addEventListener('error', (event) => {
      if (this.#es !== es) return;
      const { code, message } = event as Event & { code?: number; message?: string };
      this.#disconnect();
      this.#scheduleRetry(code, message);
    });
  }

  #scheduleRetry(status: number | undefined, message: string | undefined): void {
    const configError = status !== undefined && CONFIG_ERROR_STATUSES.has(status);
    const delayMs = configError ? this.#o.configErrorRetryMs : backoffDelay(this.#o.backoff, this.#attempt++);
    this.#setState(configError ? 'config-error' : 'backoff', {
      ...(status !== undefined ? { status } : {}),
      ...(message !== undefined ? { message } : {}),
      delayMs,
    });
    this.#retryTimer = setTimeout(() => this.#connect(), delayMs);
  }

  #message(event: MessageEvent): void {
    // Backoff restarts only once the server really streams: one that accepts and hangs up at once
    // keeps getting longer delays.
    this.#attempt = 0;
    this.#lastActivity = Date.now();
    const data = typeof event.data === 'string' ? event.data : String(event.data);
    this.#o.onEvent({ streamId: this.#o.streamId, id: event.lastEventId, name: event.type, data });
  }

  #checkSilence(): void {
    if (this.#state !== 'connected' || this.#waitingForRoom) return;
    if (Date.now() - this.#lastActivity > this.#o.heartbeatTimeoutMs) {
      this.reconnect(`no event or heartbeat for ${this.#o.heartbeatTimeoutMs} ms`);
    }
  }

  async #fetch(input: string | URL, init?: { headers?: Record<string, string>; signal?: AbortSignal | null }): Promise<Response> {
    const headers: Record<string, string> = {
      ...(init?.headers ?? {}),
      authorization: `Bearer ${this.#o.token}`,
      'cache-control': 'no-cache',
      'listen-delete': String(this.#o.listenDelete),
      'no-dependencies': String(this.#o.noDependencies),
      'with-inferences': String(this.#o.withInferences),
    };
    // The position travels in the query (`from`), which OpenCTI reads before Last-Event-ID.
    delete headers['Last-Event-ID'];
    const res = await undiciFetch(input, { headers, signal: init?.signal ?? null, dispatcher: this.#agent });
    if (res.status !== 200 || !res.body) return res;
    const body = res.body.getReader() as ReadableStreamDefaultReader<Uint8Array>;
    const gated = new ReadableStream<Uint8Array>(
      {
        pull: async (controller) => {
          if (!this.#o.hasRoom()) {
            this.#waitingForRoom = true;
            await this.#o.waitForRoom();
            this.#waitingForRoom = false;
            this.#lastActivity = Date.now();
          }
          const { done, value } = await body.read();
          if (done) controller.close();
          else controller.enqueue(value);
        },
        cancel: (reason) => body.cancel(reason),
      },
      { highWaterMark: 0 },
    );
    return new Response(gated, { status: res.status, headers: res.headers as unknown as Headers });
  }
}
