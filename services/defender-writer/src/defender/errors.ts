// Errors of Defender calls. Messages carry the status, Defender's error code and correlation id
// (`target`, for support cases), never a token or the client secret.

export class DefenderHttpError extends Error {
  readonly statusCode: number;
  readonly code: string | undefined;
  /** Defender's own `error.message` (at most 300 characters); `message` is the whole description. */
  readonly defenderMessage: string | undefined;
  readonly target: string | undefined;
  /** From Retry-After, when the response had one. */
  readonly retryAfterMs: number | undefined;

  constructor(opts: { endpoint: string; statusCode: number; code?: string | undefined; message?: string | undefined; target?: string | undefined; retryAfterMs?: number | undefined }) {
    const detail = [opts.code, opts.message?.slice(0, 300), opts.target && `target ${opts.target}`].filter(Boolean).join(': ');
    super(`Defender ${opts.endpoint} answered ${opts.statusCode}${detail ? ` (${detail})` : ''}`);
    this.name = 'DefenderHttpError';
    this.statusCode = opts.statusCode;
    this.code = opts.code;
    this.defenderMessage = opts.message?.slice(0, 300);
    this.target = opts.target;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** The token request failed (bad credentials, Entra unreachable…). */
// Entra's OAuth error codes for a credential an operator set wrong → the variable to fix (AADSTS7000215
// invalid secret and 7000222 expired secret are invalid_client; 700016 unknown application is
// unauthorized_client; 90002 unknown tenant is invalid_request).
const AUTH_HINTS: Record<string, string> = {
  invalid_client: 'Entra refused the client secret: check MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET (the secret value, not its id, and not expired)',
  unauthorized_client: 'Entra does not know this application in the tenant: check MICROSOFT_DEFENDER_INTEL_CLIENT_ID and MICROSOFT_DEFENDER_INTEL_TENANT_ID',
  invalid_request: 'Entra refused the request, e.g. an unknown tenant: check MICROSOFT_DEFENDER_INTEL_TENANT_ID',
};

export class DefenderAuthError extends Error {
  readonly code: string | undefined;
  /** Entra unreachable, 5xx or 429 (worth retrying within the call); false for a refusal of the credentials. */
  readonly transient: boolean;
  constructor(code: string | undefined, cause?: unknown, transient = false) {
    const hint = code === undefined ? undefined : AUTH_HINTS[code];
    super(`Entra token request failed${code ? `: ${code}` : ''}${hint ? ` (${hint})` : ''}`, { cause });
    this.name = 'DefenderAuthError';
    this.code = code;
    this.transient = transient;
  }
}

/**
 * Defender asked for a pause (Retry-After) longer than the client waits within one call
 * (`DEFENDER_RETRY_MAX_MS`): the call ends now, and the endpoint takes no call before `retryAfterMs`
 * has passed (retrying sooner only earns another 429). Not retryable within the call; not a breaker
 * failure (Defender is answering).
 */
export class DefenderThrottledError extends Error {
  readonly endpoint: string;
  readonly retryAfterMs: number;
  constructor(endpoint: string, retryAfterMs: number, cause?: unknown) {
    super(`Defender ${endpoint} throttled: no call for ${Math.ceil(retryAfterMs / 1000)} s (Retry-After)`, { cause });
    this.name = 'DefenderThrottledError';
    this.endpoint = endpoint;
    this.retryAfterMs = retryAfterMs;
  }
}

/** A 200 whose body does not match what was sent (e.g. fewer import results than indicators). */
export class DefenderProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DefenderProtocolError';
  }
}

/** The circuit breaker is open: Defender is failing, calls are not attempted. */
export class DefenderUnavailableError extends Error {
  constructor(cause?: unknown) {
    super('Defender calls suspended: circuit breaker open', { cause });
    this.name = 'DefenderUnavailableError';
  }
}

/**
 * The client was closed (`abort()` or `close()`): pending and later calls reject with this promptly,
 * whatever they were waiting for (quota, retry delay, HTTP exchange). It is neither a Defender failure
 * (the breaker ignores it) nor retryable.
 */
export class DefenderClientClosedError extends Error {
  constructor() {
    super('Defender client closed');
    this.name = 'DefenderClientClosedError';
  }
}

/** A call its caller cancelled (CallOptions: its signal aborted or its guard refused); `cause` says why. */
export class DefenderCallCancelledError extends Error {
  constructor(cause: unknown) {
    super(`Defender call cancelled: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'DefenderCallCancelledError';
  }
}

/**
 * HTTP statuses by which Defender refuses a whole call because of what the request contains (bad
 * body, too large, unprocessable): splitting the batch isolates the items at fault. Not 401/403
 * (credentials, permissions), 404, 408, 429 or 5xx.
 */
const CONTENT_REFUSAL_STATUSES: ReadonlySet<number> = new Set([400, 413, 422]);

/** A whole-call refusal about the request content (400, 413, 422): the client bisects the batch. */
export function isContentRefusal(e: unknown): e is DefenderHttpError {
  return e instanceof DefenderHttpError && CONTENT_REFUSAL_STATUSES.has(e.statusCode);
}

const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Worth another attempt: 5xx, 408, 429, network and timeout errors, malformed success bodies. */
export function isRetryable(e: unknown): boolean {
  if (e instanceof DefenderClientClosedError || e instanceof DefenderThrottledError) return false;
  if (e instanceof DefenderAuthError) return e.transient;
  if (e instanceof DefenderHttpError) return e.statusCode >= 500 || e.statusCode === 408 || e.statusCode === 429;
  if (e instanceof DefenderProtocolError) return true;
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('UND_ERR') || NETWORK_CODES.has(code));
}

/**
 * The breaker ignores the caller's mistakes (4xx other than 401, 408, 429) and the client's own
 * closing: they say nothing about Defender's health.
 */
export function isBreakerNeutral(e: unknown): boolean {
  if (e instanceof DefenderClientClosedError || e instanceof DefenderCallCancelledError || e instanceof DefenderThrottledError) return true;
  return e instanceof DefenderHttpError && e.statusCode >= 400 && e.statusCode < 500 && ![401, 408, 429].includes(e.statusCode);
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

/**
 * Whether a failed attempt says Defender is down (5xx, no answer, unreachable), as opposed to busy
 * (429) or refusing the request: a run of these opens the breaker whatever the earlier successes.
 */
export function isOutage(e: unknown): boolean {
  if (e instanceof DefenderHttpError) return e.statusCode >= 500;
  if (e instanceof DefenderAuthError) return e.transient;
  return isRetryable(e) && !(e instanceof DefenderProtocolError);
}

/**
 * What a per-item import failure means. Defender documents no catalogue of `failureReason` texts
 * (free text), so the classification is explicit and deliberately narrow:
 * - `throttled`: rate limit or quota wording ("too many requests", "throttl", "rate limit", "quota"):
 *   the batch waits and is retried whole, unbounded (Defender is alive and asks for time);
 * - `cap`: the tenant's active-indicator limit ("limit"/"maximum" next to "indicators", plural): information,
 *   not a failure of the batch: the rest of it is committed, the refused keys stay pending, and the
 *   writer re-lists the tenant, learns the limit Defender enforces and re-plans with the smaller room
 *   (the strongest keys stay, the rest wait over the cap);
 * - `invalid`: validation wording ("invalid", "not valid", "malformed", "not supported", "not allowed",
 *   "applies only", "empty", "require(d|s)", "must"): permanent, dead-lettered at once with Defender's text;
 * - `unknown`: anything else, server trouble included: the key is retried in later rounds without
 *   holding the partition, at most `WRITER_ITEM_MAX_ATTEMPTS` times, then dead-lettered with the text.
 * The checks run in this order ("Rate limit is exceeded" is throttling, not the cap).
 */
export type FailureCategory = 'throttled' | 'cap' | 'invalid' | 'unknown';

export function classifyFailure(reason: string | null | undefined): FailureCategory {
  const r = reason ?? '';
  if (/too many requests|throttl|rate limit|quota/i.test(r)) return 'throttled';
  // "indicators", plural: the tenant's count, not one indicator's field ("Indicator value exceeds the maximum length").
  if (/\b(limit|maximum)\b.{0,60}\bindicators\b|\bindicators\b.{0,60}\b(limit|maximum)\b/i.test(r)) return 'cap';
  if (/invalid|not valid|malformed|not supported|unsupported|not allowed|applies only|empty|\brequire[ds]?\b|\bmust\b/i.test(r)) return 'invalid';
  return 'unknown';
}

/** Categories that hold the whole batch back (retried after a pause) rather than only the item. */
export function blocksBatch(category: FailureCategory): boolean {
  return category === 'throttled';
}
