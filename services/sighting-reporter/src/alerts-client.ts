// GET /api/alerts of the Defender for Endpoint API: the custom-indicator alerts updated since a time,
// every page, inside the tenant's alerts quota (100 calls a minute and 1,500 an hour, sliding windows
// as the writer's), a 429's Retry-After honoured before the next call, one token refresh on 401. Other
// failures end the call; the reporter retries the whole poll later (nothing is lost: its position
// has not moved).
import { DefenderHttpError, DefenderProtocolError, parseRetryAfter } from '@octi-defender/defender-writer/defender/errors';
import type { DefenderMetrics } from '@octi-defender/defender-writer/defender/metrics';
import { QuotaLimiter, systemClock, type Clock } from '@octi-defender/defender-writer/defender/quota';
import type { TokenSource } from '@octi-defender/defender-writer/defender/token';
import { Agent, request, type Dispatcher } from 'undici';

const MAX_ALERTS_PAGE = 10_000;
/** Consecutive 429s a call waits out before it gives up. */
const MAX_THROTTLED = 3;

export interface AlertsSource {
  /** Raw alerts (the `value` items) raised by custom indicators and updated at or after `since`. */
  listUpdatedSince(since: Date, signal?: AbortSignal): Promise<unknown[]>;
}

interface AlertsClientOptions {
  readonly baseUrl: string;
  readonly tokens: TokenSource;
  readonly perMinute: number;
  readonly perHour: number;
  readonly pageSize: number;
  readonly timeoutMs: number;
  readonly metrics: DefenderMetrics;
  readonly clock?: Clock;
  readonly dispatcher?: Dispatcher;
}

/** `$filter` of the custom-indicator alerts updated at or after `since` (an OData DateTimeOffset literal). */
function alertsFilter(since: Date): string {
  return `detectionSource eq 'CustomerTI' and lastUpdateTime ge ${since.toISOString()}`;
}

export class DefenderAlertsClient implements AlertsSource {
  readonly #o: AlertsClientOptions;
  readonly #base: URL;
  readonly #quota: QuotaLimiter<'alerts'>;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;

  constructor(o: AlertsClientOptions) {
    if (o.pageSize < 1 || o.pageSize > MAX_ALERTS_PAGE) throw new RangeError(`page size must be 1 to ${MAX_ALERTS_PAGE}`);
    this.#o = o;
    this.#base = new URL(o.baseUrl);
    this.#quota = new QuotaLimiter<'alerts'>({ alerts: [{ limit: o.perMinute, windowMs: 60_000 }, { limit: o.perHour, windowMs: 3_600_000 }] }, 1, o.clock ?? systemClock);
    this.#ownsDispatcher = o.dispatcher === undefined;
    this.#dispatcher = o.dispatcher ?? new Agent({ connections: 2, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs });
  }

  async listUpdatedSince(since: Date, signal?: AbortSignal): Promise<unknown[]> {
    const out: unknown[] = [];
    const query = (skip: number) => {
      const q = new URLSearchParams({ $filter: alertsFilter(since), $expand: 'evidence', $top: String(this.#o.pageSize) });
      if (skip > 0) q.set('$skip', String(skip));
      return new URL(`/api/alerts?${q.toString()}`, this.#base).toString();
    };
    let url = query(0);
    for (let skip = 0;;) {
      const page = await this.#get(url, signal);
      out.push(...page.value);
      if (page.nextLink !== undefined) {
        // The bearer token only ever goes to the configured Defender origin.
        if (new URL(page.nextLink).origin !== this.#base.origin) throw new DefenderProtocolError(`@odata.nextLink points to another origin: ${new URL(page.nextLink).origin}`);
        url = page.nextLink;
      } else if (page.value.length >= this.#o.pageSize) {
        skip += page.value.length;
        url = query(skip);
      } else {
        return out;
      }
    }
  }

  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  async #get(url: string, signal: AbortSignal | undefined): Promise<{ value: unknown[]; nextLink?: string }> {
    for (let throttled = 0;;) {
      await this.#quota.acquire('alerts', signal);
      let token = await this.#o.tokens.get();
      let res = await this.#http(url, token, signal);
      if (res.status === 401) {
        token = await this.#o.tokens.refresh(token);
        res = await this.#http(url, token, signal);
      }
      if (res.status === 200) {
        const json = res.json as { value?: unknown; '@odata.nextLink'?: unknown } | undefined;
        if (!Array.isArray(json?.value)) throw new DefenderProtocolError('alerts response has no value array');
        const next = json['@odata.nextLink'];
        return { value: json.value, ...(typeof next === 'string' && next !== '' ? { nextLink: next } : {}) };
      }
      const err = (res.json as { error?: { code?: unknown; message?: unknown; target?: unknown } } | undefined)?.error;
      const s = (v: unknown) => (typeof v === 'string' ? v : undefined);
      const e = new DefenderHttpError({
        endpoint: 'list',
        statusCode: res.status,
        code: s(err?.code),
        message: s(err?.message),
        target: s(err?.target),
        retryAfterMs: parseRetryAfter(res.retryAfter),
      });
      if (res.status === 429 && ++throttled <= MAX_THROTTLED) {
        this.#quota.blockFor('alerts', e.retryAfterMs ?? 60_000);
        continue;
      }
      throw e;
    }
  }

  async #http(url: string, token: string, signal: AbortSignal | undefined): Promise<{ status: number; json: unknown; retryAfter: string | string[] | undefined }> {
    const end = this.#o.metrics.duration.startTimer({ endpoint: 'alerts' });
    try {
      const res = await request(url, {
        method: 'GET',
        dispatcher: this.#dispatcher,
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        headersTimeout: this.#o.timeoutMs,
        bodyTimeout: this.#o.timeoutMs,
        ...(signal && { signal }),
      });
      const text = await res.body.text();
      this.#o.metrics.calls.inc({ endpoint: 'alerts', status: String(res.statusCode) });
      let json: unknown;
      try {
        json = text === '' ? undefined : JSON.parse(text);
      } catch {
        if (res.statusCode < 300) throw new DefenderProtocolError(`alerts answered ${res.statusCode} with a body that is not JSON`);
      }
      return { status: res.statusCode, json, retryAfter: res.headers['retry-after'] };
    } catch (e) {
      if (!(e instanceof DefenderProtocolError)) this.#o.metrics.calls.inc({ endpoint: 'alerts', status: 'network' });
      throw e;
    } finally {
      end();
    }
  }
}
