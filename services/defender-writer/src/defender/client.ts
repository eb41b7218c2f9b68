// A thin client of the documented Defender indicators API: import (≤500), BatchDelete (≤500) and
// list, with the tenant-share quota buckets, retries with backoff and jitter (Retry-After on 429), a
// circuit breaker that each HTTP attempt goes through, one token refresh on 401, bisection of batches
// Defender refuses as a whole for their content, cancellation of every wait on close, and a dry-run mode.
import { backoffDelay, type Logger } from '@octi-defender/platform';
import CircuitBreaker from 'opossum';
import { Agent, request, type Dispatcher } from 'undici';
import {
  DefenderCallCancelledError,
  DefenderClientClosedError,
  DefenderHttpError,
  DefenderProtocolError,
  DefenderThrottledError,
  DefenderUnavailableError,
  classifyFailure,
  isBreakerNeutral,
  isContentRefusal,
  isOutage,
  isRetryable,
  parseRetryAfter,
} from './errors.ts';
import { BREAKER_STATE, type DefenderMetrics } from './metrics.ts';
import { DRY_RUN_ID, type BatchDeleteRejection, type BatchDeleteResult, type DefenderIndicator, type DefenderIndicatorRecord, type ImportOutcome } from './model.ts';
import { abortable, DEFENDER_QUOTAS, QuotaLimiter, systemClock, type Clock, type Endpoint, type Quotas } from './quota.ts';
import type { TokenSource } from './token.ts';
import { comparableKey } from './values.ts';

const MAX_ITEMS_PER_CALL = 500;
const MAX_PAGE_SIZE = 10_000;
/** The id reported for indicators "imported" in dry-run mode. */

/** An OData string literal: quotes doubled (the whole filter is percent-encoded when sent). */
export function odataString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export function odataEq(field: string, value: string): string {
  return `${field} eq ${odataString(value)}`;
}

/** The reason recorded for an item (or id) Defender refused alone: `<status> <code>: <message>`. */
function refusalReason(e: DefenderHttpError): string {
  return `${e.statusCode}${e.code ? ` ${e.code}` : ''}: ${e.defenderMessage ?? 'no message'}`;
}

interface BreakerOptions {
  readonly errorThresholdPercentage?: number;
  readonly volumeThreshold?: number;
  readonly rollingCountTimeout?: number;
  readonly resetTimeout?: number;
  /**
   * Outage failures in a row (5xx, no answer, unreachable; not 429) that open the breaker whatever
   * the window's percentage: after a busy minute the window's successes would hide a total outage.
   */
  readonly consecutiveFailures?: number;
}

export interface DefenderClientOptions {
  readonly baseUrl: string;
  /** The writer's application name: its indicators are re-listed by it after a BatchDelete 404. */
  readonly application: string;
  readonly tokens: TokenSource;
  readonly logger: Logger;
  readonly metrics: DefenderMetrics;
  readonly dryRun?: boolean;
  /** This writer's share of the tenant's quotas, 0 < share ≤ 1. */
  readonly share?: number;
  readonly quotas?: Quotas;
  readonly connections?: number;
  readonly connectTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly maxRetries?: number;
  readonly retryBaseMs?: number;
  readonly retryMaxMs?: number;
  readonly breaker?: BreakerOptions;
  /** Injected in tests; otherwise a keep-alive Agent owned (and closed) by the client. */
  readonly dispatcher?: Dispatcher;
  readonly clock?: Clock;
  readonly random?: () => number;
}

/**
 * Per call: `signal` cancels it (its quota, token and retry waits and the HTTP exchange in flight);
 * `guard` runs right before each HTTP request goes out and throws to stop the call there (e.g. a lease
 * the caller must still hold: a check made when the call started says nothing after a long quota
 * wait or a process pause). Either way the call rejects with DefenderCallCancelledError, which is not
 * retried and not counted by the breaker.
 */
export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
  readonly guard?: (() => void) | undefined;
}

type Method = 'GET' | 'POST';
type BreakerEvent = 'open' | 'halfOpen' | 'close';
type Attempt = (endpoint: Endpoint, method: Method, url: string, body: unknown, call: CallOptions) => Promise<unknown>;

interface ImportResultItem {
  readonly id?: string | null;
  readonly indicator?: string | null;
  readonly isFailed?: boolean;
  readonly failureReason?: string | null;
}

interface ListPage {
  readonly value: DefenderIndicatorRecord[];
  readonly nextLink?: string | undefined;
}

export class DefenderClient {
  readonly #base: URL;
  readonly #opts: DefenderClientOptions;
  readonly #log: Logger;
  readonly #metrics: DefenderMetrics;
  readonly #quota: QuotaLimiter;
  readonly #breaker: CircuitBreaker<Parameters<Attempt>, unknown>;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #maxRetries: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #timeoutMs: number;
  /** Aborted by abort()/close(): every wait and HTTP exchange listens to it. */
  readonly #closer = new AbortController();
  /** Outage failures since the last success (see BreakerOptions.consecutiveFailures). */
  #outageRun = 0;

  constructor(opts: DefenderClientOptions) {
    this.#opts = opts;
    this.#base = new URL(opts.baseUrl);
    this.#log = opts.logger;
    this.#metrics = opts.metrics;
    this.#clock = opts.clock ?? systemClock;
    this.#random = opts.random ?? Math.random;
    this.#quota = new QuotaLimiter(opts.quotas ?? DEFENDER_QUOTAS, opts.share ?? 1, this.#clock);
    this.#maxRetries = opts.maxRetries ?? 5;
    this.#retryBaseMs = opts.retryBaseMs ?? 1000;
    this.#retryMaxMs = opts.retryMaxMs ?? 120_000;
    this.#timeoutMs = opts.requestTimeoutMs ?? 120_000;
    this.#ownsDispatcher = opts.dispatcher === undefined;
    this.#dispatcher = opts.dispatcher ??
      new Agent({
        connections: opts.connections ?? 4,
        keepAliveTimeout: 30_000,
        connect: { timeout: opts.connectTimeoutMs ?? 10_000 },
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
    const b = opts.breaker ?? {};
    // Each HTTP attempt goes through the breaker (retries happen outside it), so its statistics see
    // every failure and a call never holds it for a whole retry budget; undici enforces the timeouts.
    this.#breaker = new CircuitBreaker<Parameters<Attempt>, unknown>((...args) => this.#attempt(...args), {
      timeout: false,
      errorThresholdPercentage: b.errorThresholdPercentage ?? 50,
      volumeThreshold: b.volumeThreshold ?? 5,
      rollingCountTimeout: b.rollingCountTimeout ?? 60_000,
      resetTimeout: b.resetTimeout ?? 30_000,
      errorFilter: isBreakerNeutral,
      name: 'defender',
    });
    const openAfter = b.consecutiveFailures ?? 5;
    this.#breaker.on('success', () => {
      this.#outageRun = 0;
    });
    this.#breaker.on('failure', (e: unknown) => {
      this.#outageRun = isOutage(e) ? this.#outageRun + 1 : 0;
      if (openAfter > 0 && this.#outageRun >= openAfter && this.#breaker.closed) {
        this.#log.warn({ failures: this.#outageRun }, 'Defender failed this many calls in a row: opening the circuit breaker');
        this.#breaker.open();
      }
    });
    this.#metrics.breakerState.set(BREAKER_STATE.closed);
    for (const state of ['open', 'halfOpen', 'close'] as const) {
      this.#breaker.on(state, () => {
        this.#metrics.breakerState.set(state === 'close' ? BREAKER_STATE.closed : BREAKER_STATE[state]);
        this.#log[state === 'open' ? 'warn' : 'info']({ breaker: state }, `Defender circuit breaker ${state}`);
      });
    }
  }

  get dryRun(): boolean {
    return this.#opts.dryRun ?? false;
  }

  get breakerState(): 'closed' | 'open' | 'halfOpen' {
    return this.#breaker.opened ? 'open' : this.#breaker.halfOpen ? 'halfOpen' : 'closed';
  }

  /** open → pause consuming; halfOpen → resume (the next call is the probe); close → healthy. */
  on(event: BreakerEvent, listener: () => void): this {
    this.#breaker.on(event, listener);
    return this;
  }

  off(event: BreakerEvent, listener: () => void): this {
    this.#breaker.off(event, listener);
    return this;
  }

  get share(): number {
    return this.#quota.share;
  }

  /** Milliseconds before every endpoint may be called again after a Retry-After (0: none pending). */
  throttledForMs(): number {
    return Math.max(this.#quota.blockedForMs('import'), this.#quota.blockedForMs('batchDelete'), this.#quota.blockedForMs('list'));
  }

  /**
   * Milliseconds before `endpoint`'s quota lets a call go at the even pace it sustains (its windows
   * and pacing allow it, and the last call is one spacing old: 2 s for 30/min); 0: now. A
   * Retry-After is `throttledForMs()`'s.
   */
  quotaWaitMs(endpoint: Endpoint): number {
    return this.#quota.readyInMs(endpoint, true);
  }

  /**
   * Resolves once `quotaWaitMs(endpoint)` is 0, waiting on the client's clock; no slot is taken (the
   * call that follows takes it). Rejects once the client is closed.
   */
  async quotaReady(endpoint: Endpoint): Promise<void> {
    const signal = this.#closer.signal;
    for (;;) {
      this.#throwIfClosed();
      const wait = this.#quota.readyInMs(endpoint, true);
      if (wait <= 0) return;
      await abortable(this.#clock.sleep(Math.ceil(wait), signal), signal);
    }
  }

  /** On rebalance: this writer's partitions / all partitions. */
  setShare(share: number): void {
    this.#quota.setShare(share);
  }

  /**
   * Cancels every pending and future call: quota waits, retry delays (a Retry-After may be up to
   * `retryMaxMs`), token waits and HTTP exchanges in flight reject at once with
   * DefenderClientClosedError. Idempotent. Call it first on shutdown, so that a batch blocked on
   * Defender ends within the grace period; `close()` calls it too.
   */
  abort(): void {
    if (this.#closer.signal.aborted) return;
    this.#closer.abort(new DefenderClientClosedError());
    this.#log.info('Defender client closed: pending calls cancelled');
  }

  /** True once abort() or close() was called. */
  get closed(): boolean {
    return this.#closer.signal.aborted;
  }

  async close(): Promise<void> {
    this.abort();
    this.#breaker.shutdown();
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  /**
   * `POST /api/indicators/import`. Resolves with one outcome per indicator, in order. A 200 with a
   * result count that does not match is a (retried) protocol error; per-item failures are not. A
   * whole-call refusal for the content (400, 413, 422) is bisected (see #importOrSplit): an item
   * refused alone gets a permanent outcome with Defender's status, code and message.
   */
  async import(indicators: readonly DefenderIndicator[], call: CallOptions = {}): Promise<ImportOutcome[]> {
    if (indicators.length === 0) return [];
    if (indicators.length > MAX_ITEMS_PER_CALL) throw new RangeError(`import takes at most ${MAX_ITEMS_PER_CALL} indicators, got ${indicators.length}`);
    this.#throwIfClosed();
    const url = this.#url('/api/indicators/import');
    const body = { Indicators: indicators };
    if (this.dryRun) {
      this.#dry('import', url, body);
      this.#metrics.items.inc({ endpoint: 'import', outcome: 'dry_run', reason: 'none' }, indicators.length);
      return indicators.map(() => ({ ok: true, id: DRY_RUN_ID }));
    }
    const outcomes = await this.#importOrSplit(url, indicators, call);
    for (const o of outcomes) {
      const labels = o.ok
        ? { outcome: 'accepted', reason: 'none' }
        : { outcome: o.permanent ? 'rejected' : 'transient', reason: o.category };
      this.#metrics.items.inc({ endpoint: 'import', ...labels });
    }
    return outcomes;
  }

  /**
   * `POST /api/indicators/BatchDelete`. Resolves when none of the ids exists any more, except the
   * `rejected` ones (empty normally and in dry run). Defender answers 404 when any id is already gone
   * (expired, deleted by hand); then the ids that still exist are found by re-listing this
   * application's indicators and deleted in a second call. A whole-call refusal for the content
   * (400, 413, 422) is bisected like an import: an id refused alone is returned in `rejected` with
   * Defender's status, code and message; the other ids are deleted.
   */
  async batchDelete(ids: readonly string[], call: CallOptions = {}): Promise<BatchDeleteResult> {
    if (ids.length === 0) return { rejected: [] };
    if (ids.length > MAX_ITEMS_PER_CALL) throw new RangeError(`BatchDelete takes at most ${MAX_ITEMS_PER_CALL} ids, got ${ids.length}`);
    this.#throwIfClosed();
    const url = this.#url('/api/indicators/BatchDelete');
    if (this.dryRun) {
      this.#dry('batchDelete', url, { IndicatorIds: ids });
      this.#metrics.items.inc({ endpoint: 'batchDelete', outcome: 'dry_run', reason: 'none' }, ids.length);
      return { rejected: [] };
    }
    const rejected: BatchDeleteRejection[] = [];
    await this.#deleteOrSplit(url, ids, rejected, call);
    return { rejected };
  }

  /**
   * One import call; when Defender refuses the whole call for what it contains (400, 413, 422: one
   * malformed item makes the whole request a 400, a body too large is a 413), the batch is split in
   * two halves, each imported the same way, so that the good items are imported and an item refused
   * alone becomes a permanent outcome (dead-lettered by the writer) instead of blocking its partition.
   *
   * Cost in calls (import quota: 30/min, every call goes through it): a batch of n with one refused
   * item takes 1 + 2·log2(n) calls instead of 1 (18 more for n = 500, about 40 s of import quota);
   * each further refused item adds up to 2·log2(n) more; if every item is refused, 2n − 1 calls.
   * Splits are counted in `defender_api_bisections_total{endpoint}`.
   */
  async #importOrSplit(url: string, indicators: readonly DefenderIndicator[], call: CallOptions): Promise<ImportOutcome[]> {
    try {
      return await this.#call('import', 'POST', url, { Indicators: indicators }, (json) => matchImportResults(indicators, json), call);
    } catch (e) {
      if (!isContentRefusal(e)) throw e;
      const [only] = indicators;
      if (indicators.length === 1 && only) {
        const reason = refusalReason(e);
        this.#log.warn(
          { endpoint: 'import', status: e.statusCode, code: e.code, target: e.target, indicatorType: only.indicatorType, indicatorValue: only.indicatorValue },
          'Defender refused an indicator alone: permanent failure',
        );
        return [{ ok: false, permanent: true, reason, category: 'invalid' }];
      }
      const [a, b] = this.#split('import', e, indicators);
      return [...(await this.#importOrSplit(url, a, call)), ...(await this.#importOrSplit(url, b, call))];
    }
  }

  /** BatchDelete of `ids` with the 404 recovery; bisected on a whole-call content refusal (same cost as #importOrSplit). */
  async #deleteOrSplit(url: string, ids: readonly string[], rejected: BatchDeleteRejection[], call: CallOptions): Promise<void> {
    try {
      await this.#call('batchDelete', 'POST', url, { IndicatorIds: ids }, () => undefined, call);
      this.#metrics.items.inc({ endpoint: 'batchDelete', outcome: 'deleted', reason: 'none' }, ids.length);
      return;
    } catch (e) {
      if (isContentRefusal(e)) {
        const [only] = ids;
        if (ids.length === 1 && only !== undefined) {
          const reason = refusalReason(e);
          this.#log.warn({ endpoint: 'batchDelete', status: e.statusCode, code: e.code, target: e.target, id: only }, 'Defender refused to delete an id alone');
          this.#metrics.items.inc({ endpoint: 'batchDelete', outcome: 'rejected', reason: 'invalid' });
          rejected.push({ id: only, reason });
          return;
        }
        const [a, b] = this.#split('batchDelete', e, ids);
        await this.#deleteOrSplit(url, a, rejected, call);
        await this.#deleteOrSplit(url, b, rejected, call);
        return;
      }
      if (!(e instanceof DefenderHttpError && e.statusCode === 404)) throw e;
    }
    const owned = new Set<string>();
    for await (const page of this.listAll({ filter: odataEq('application', this.#opts.application) }, call)) {
      for (const r of page) owned.add(String(r.id));
    }
    const existing = ids.filter((id) => owned.has(id));
    this.#metrics.items.inc({ endpoint: 'batchDelete', outcome: 'already_gone', reason: 'none' }, ids.length - existing.length);
    this.#log.info({ requested: ids.length, stillExisting: existing.length }, 'BatchDelete 404: retrying with the ids that still exist');
    if (existing.length === 0) return;
    await this.#call('batchDelete', 'POST', url, { IndicatorIds: existing }, () => undefined, call);
    this.#metrics.items.inc({ endpoint: 'batchDelete', outcome: 'deleted', reason: 'none' }, existing.length);
  }

  /** One page of `GET /api/indicators` ($top ≤ 10000). */
  async list(opts: { readonly filter?: string; readonly top?: number; readonly skip?: number } = {}, call: CallOptions = {}): Promise<ListPage> {
    const top = opts.top ?? MAX_PAGE_SIZE;
    if (top < 1 || top > MAX_PAGE_SIZE) throw new RangeError(`$top must be 1 to ${MAX_PAGE_SIZE}`);
    const query = [
      ...(opts.filter !== undefined ? [`$filter=${encodeURIComponent(opts.filter)}`] : []),
      `$top=${top}`,
      ...(opts.skip ? [`$skip=${opts.skip}`] : []),
    ];
    return this.#listUrl(`${this.#url('/api/indicators')}?${query.join('&')}`, call);
  }

  /**
   * Every page matching the filter: follows @odata.nextLink when Defender sends one, else pages with
   * $skip until a short page. Offsets shift if indicators change meanwhile; the reconciler tolerates it.
   */
  async *listAll(opts: { readonly filter?: string; readonly pageSize?: number } = {}, call: CallOptions = {}): AsyncGenerator<DefenderIndicatorRecord[]> {
    const top = opts.pageSize ?? MAX_PAGE_SIZE;
    let page = await this.list({ ...opts, top }, call);
    for (let skip = top;; skip += top) {
      if (page.value.length > 0) yield page.value;
      if (page.nextLink !== undefined) page = await this.#listUrl(page.nextLink, call);
      else if (page.value.length >= top) page = await this.list({ ...opts, top, skip }, call);
      else return;
    }
  }

  async #listUrl(url: string, call: CallOptions): Promise<ListPage> {
    // The bearer token is only ever sent to the configured Defender origin.
    if (new URL(url).origin !== this.#base.origin) throw new DefenderProtocolError(`@odata.nextLink points to another origin: ${new URL(url).origin}`);
    return this.#call('list', 'GET', url, undefined, (json) => {
      const value = (json as { value?: unknown } | null)?.value;
      if (!Array.isArray(value)) throw new DefenderProtocolError('list response has no value array');
      const next = (json as Record<string, unknown>)['@odata.nextLink'];
      return { value: value as DefenderIndicatorRecord[], nextLink: typeof next === 'string' && next !== '' ? next : undefined };
    }, call);
  }

  /** The two halves of a batch Defender refused as a whole; counted and logged. */
  #split<T>(endpoint: Endpoint, e: DefenderHttpError, items: readonly T[]): [readonly T[], readonly T[]] {
    const half = Math.ceil(items.length / 2);
    this.#metrics.bisections.inc({ endpoint });
    this.#log.warn({ endpoint, status: e.statusCode, code: e.code, target: e.target, items: items.length }, 'Defender refused the whole call for its content: splitting the batch in two');
    return [items.slice(0, half), items.slice(half)];
  }

  #throwIfClosed(): void {
    if (this.#closer.signal.aborted) throw this.#closedError();
  }

  #closedError(): DefenderClientClosedError {
    return this.#closer.signal.reason as DefenderClientClosedError;
  }

  #url(path: string): string {
    return new URL(path, this.#base).toString();
  }

  #dry(endpoint: Endpoint, url: string, body: unknown): void {
    this.#metrics.calls.inc({ endpoint, status: 'dry_run' });
    this.#log.info({ dryRun: true, endpoint, method: 'POST', url, body }, 'dry run: Defender request not sent');
  }

  /**
   * Quota, breaker, retries; `read` runs inside the attempt so a malformed 200 is retried too. Once
   * the client is closed, every wait (quota, retry delay, HTTP) ends with DefenderClientClosedError.
   * A Retry-After is honoured as given: the endpoint takes no call before it (the quota limiter
   * holds every caller); one longer than `retryMaxMs` ends the call with DefenderThrottledError
   * instead of holding the caller's batch, and so does any call made before it has passed.
   */
  async #call<T>(endpoint: Endpoint, method: Method, url: string, body: unknown, read: (json: unknown) => T, call: CallOptions): Promise<T> {
    const signal = this.#signal(call);
    for (let attempt = 0;; attempt++) {
      this.#throwIfCancelled(call);
      if (this.#breaker.opened) throw new DefenderUnavailableError();
      const blocked = this.#quota.blockedForMs(endpoint);
      if (blocked > this.#retryMaxMs) throw new DefenderThrottledError(endpoint, blocked);
      const waited = await this.#cancellable(this.#quota.acquire(endpoint, signal), call);
      this.#metrics.quotaWait.observe({ endpoint }, waited / 1000);
      try {
        return read(await this.#breaker.fire(endpoint, method, url, body, call));
      } catch (e) {
        // Whatever the attempt ended with (an aborted request, a shut-down breaker), the client is closed.
        if (signal.aborted) this.#throwIfCancelled(call);
        if (e instanceof DefenderCallCancelledError) throw e;
        if ((e as { code?: unknown }).code === 'EOPENBREAKER') throw new DefenderUnavailableError(e);
        const retryAfter = e instanceof DefenderHttpError ? e.retryAfterMs : undefined;
        if (retryAfter !== undefined) {
          this.#quota.blockFor(endpoint, retryAfter);
          if (retryAfter > this.#retryMaxMs) {
            this.#log.warn({ endpoint, retryAfterMs: retryAfter, err: e }, 'Defender asked for a long pause (Retry-After): the call ends, the endpoint waits');
            throw new DefenderThrottledError(endpoint, retryAfter, e);
          }
        }
        if (!isRetryable(e) || attempt >= this.#maxRetries) throw e;
        // After a Retry-After the quota limiter waits exactly that long; otherwise backoff with full jitter.
        const delay = retryAfter === undefined ? backoffDelay({ baseMs: this.#retryBaseMs, maxMs: this.#retryMaxMs, jitter: 'full', random: this.#random }, attempt) : 0;
        this.#log.warn({ endpoint, attempt: attempt + 1, delayMs: Math.round(retryAfter ?? delay), err: e }, 'Defender call failed, retrying');
        if (delay > 0) await this.#cancellable(abortable(this.#clock.sleep(delay, signal), signal), call);
      }
    }
  }

  /** The client's closing, and the call's own signal when it has one. */
  #signal(call: CallOptions): AbortSignal {
    return call.signal ? AbortSignal.any([this.#closer.signal, call.signal]) : this.#closer.signal;
  }

  /** Closed client first (DefenderClientClosedError), then the call's own cancellation. */
  #throwIfCancelled(call: CallOptions): void {
    this.#throwIfClosed();
    if (call.signal?.aborted) throw new DefenderCallCancelledError(call.signal.reason);
  }

  async #cancellable<T>(wait: Promise<T>, call: CallOptions): Promise<T> {
    try {
      return await wait;
    } catch (e) {
      this.#throwIfCancelled(call);
      throw e;
    }
  }

  /** One HTTP exchange; a 401 gets one new token and one more try before it counts as a failure. */
  async #attempt(endpoint: Endpoint, method: Method, url: string, body: unknown, call: CallOptions): Promise<unknown> {
    const signal = this.#signal(call);
    let token = await this.#cancellable(abortable(this.#opts.tokens.get(), signal), call);
    let res = await this.#http(endpoint, method, url, body, token, call);
    if (res.status === 401) {
      token = await this.#cancellable(abortable(this.#opts.tokens.refresh(token), signal), call);
      res = await this.#http(endpoint, method, url, body, token, call);
    }
    if (res.status >= 200 && res.status < 300) return res.json;
    const err = (res.json as { error?: { code?: unknown; message?: unknown; target?: unknown } } | undefined)?.error;
    const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
    throw new DefenderHttpError({
      endpoint,
      statusCode: res.status,
      code: str(err?.code),
      message: str(err?.message),
      target: str(err?.target),
      retryAfterMs: parseRetryAfter(res.retryAfter),
    });
  }

  async #http(endpoint: Endpoint, method: Method, url: string, body: unknown, token: string, call: CallOptions): Promise<{ status: number; json: unknown; retryAfter: string | string[] | undefined }> {
    this.#throwIfCancelled(call);
    try {
      call.guard?.();
    } catch (e) {
      throw new DefenderCallCancelledError(e);
    }
    const end = this.#metrics.duration.startTimer({ endpoint });
    try {
      const res = await request(url, {
        method,
        dispatcher: this.#dispatcher,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json', ...(body !== undefined && { 'content-type': 'application/json' }) },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
        signal: this.#signal(call),
      });
      const text = await res.body.text();
      this.#metrics.calls.inc({ endpoint, status: String(res.statusCode) });
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        if (res.statusCode < 300) throw new DefenderProtocolError(`${endpoint} answered ${res.statusCode} with a body that is not JSON`);
      }
      return { status: res.statusCode, json, retryAfter: res.headers['retry-after'] };
    } catch (e) {
      if (this.#closer.signal.aborted || call.signal?.aborted) {
        this.#metrics.calls.inc({ endpoint, status: 'aborted' });
        this.#throwIfCancelled(call);
      }
      if (!(e instanceof DefenderProtocolError)) this.#metrics.calls.inc({ endpoint, status: 'network' });
      throw e;
    } finally {
      end();
    }
  }
}

/**
 * Pairs import results with the indicators sent. Each indicator takes the first unused result
 * echoing its exact value, else the first unused one whose value compares equal (`comparableKey`:
 * Defender may echo another spelling, e.g. a URL without its trailing slash), else the result in
 * its position if that one echoes no value. In the usual case (in order, exact) this is positional.
 * Only an indicator left without a result is a protocol error.
 */
export function matchImportResults(sent: readonly DefenderIndicator[], json: unknown): ImportOutcome[] {
  const value = (json as { value?: unknown } | null)?.value;
  if (!Array.isArray(value)) throw new DefenderProtocolError('import response has no value array');
  if (value.length !== sent.length) throw new DefenderProtocolError(`import returned ${value.length} results for ${sent.length} indicators`);
  const items = value as ImportResultItem[];
  const used = new Set<number>();
  const byEcho = new Map<string, number[]>();
  items.forEach((r, i) => {
    if (r.indicator != null) byEcho.set(r.indicator, [...(byEcho.get(r.indicator) ?? []), i]);
  });
  const matched: (number | undefined)[] = sent.map((s) => {
    const i = byEcho.get(s.indicatorValue)?.shift();
    if (i !== undefined) used.add(i);
    return i;
  });
  sent.forEach((s, i) => {
    if (matched[i] !== undefined) return;
    // Compared in the sent indicator's type: the result echoes no type.
    const want = comparableKey(s.indicatorType, s.indicatorValue);
    const j = items.findIndex((r, k) => !used.has(k) && r.indicator != null && comparableKey(s.indicatorType, r.indicator) === want);
    if (j >= 0) {
      used.add(j);
      matched[i] = j;
    } else if (!used.has(i) && items[i]?.indicator == null) {
      used.add(i);
      matched[i] = i;
    }
  });
  const ordered = sent.map((s, i) => {
    const j = matched[i];
    if (j === undefined) throw new DefenderProtocolError(`import returned no result for ${s.indicatorType} ${s.indicatorValue}`);
    return items[j] as ImportResultItem;
  });
  return ordered.map((r): ImportOutcome => {
    if (r.isFailed === true) {
      const reason = r.failureReason ?? 'failed without a reason';
      const category = classifyFailure(reason);
      return { ok: false, reason, permanent: category === 'invalid', category };
    }
    if (r.id == null || r.id === '') return { ok: false, reason: 'accepted without an id', permanent: false, category: 'unknown' };
    return { ok: true, id: String(r.id) };
  });
}
