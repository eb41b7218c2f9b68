// Microsoft Defender for Endpoint indicators API + Entra token endpoint emulator (research/defender-api.md).
import { isRecord } from '@octi-defender/indicators';
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, listen, readBody, readJson, sendJson } from '../http.ts';
import type { ListenOptions } from '../http.ts';
import { Random } from '../opencti/stix.ts';
import { AlertStore, type DefenderAlert, type RaiseAlertInput } from './alerts.ts';
import { evaluate, ODataError, parseFilter } from './odata.ts';
import { validateIndicator, ValidationError } from './validation.ts';
import type { IndicatorInput, ValidationOptions } from './validation.ts';

export type Endpoint = 'token' | 'list' | 'submit' | 'import' | 'delete' | 'batchDelete' | 'alerts';
export const API_ENDPOINTS: Endpoint[] = ['list', 'submit', 'import', 'delete', 'batchDelete', 'alerts'];

export interface RateLimit {
  limit: number;
  windowMs: number;
}
/** Documented per-endpoint limits (research/defender-api.md §2). */
export const DEFAULT_RATE_LIMITS: Record<Exclude<Endpoint, 'token'>, RateLimit[]> = {
  list: [{ limit: 100, windowMs: 60_000 }, { limit: 1500, windowMs: 3_600_000 }],
  submit: [{ limit: 100, windowMs: 60_000 }, { limit: 1500, windowMs: 3_600_000 }],
  import: [{ limit: 30, windowMs: 60_000 }],
  delete: [{ limit: 100, windowMs: 60_000 }, { limit: 1500, windowMs: 3_600_000 }],
  batchDelete: [{ limit: 30, windowMs: 60_000 }, { limit: 1500, windowMs: 3_600_000 }],
  /** List alerts API page: 100 calls per minute and 1,500 per hour. */
  alerts: [{ limit: 100, windowMs: 60_000 }, { limit: 1500, windowMs: 3_600_000 }],
};

/** How a test names the indicator an alert fires on, and where and when. */
export interface RaiseAlertRequest {
  /** The Defender id of the indicator, or its type and value. */
  indicatorId?: string;
  indicatorType?: string;
  indicatorValue?: string;
  machineId?: string;
  computerDnsName?: string;
  /** ISO time (or epoch ms) of the event; default the emulated now. */
  eventTime?: string | number;
  evidence?: RaiseAlertInput['evidence'];
}

export interface DefenderClient {
  clientId: string;
  clientSecret: string;
  /** Shown as `source`/`createdByDisplayName`/`lastUpdatedBy`. */
  displayName?: string;
  /**
   * Application permissions of WindowsDefenderATP granted to the app (admin consent): the access
   * token's `roles` claim, absent when empty, as Entra issues it. Default ['Ti.ReadWrite.All'].
   * List needs Ti.ReadWrite, Ti.ReadWrite.All or Ti.Read.All; every write needs Ti.ReadWrite.All;
   * otherwise 403 Forbidden.
   */
  roles?: readonly string[];
}

export const DEFAULT_ROLES: readonly string[] = ['Ti.ReadWrite.All'];
const READ_ROLES: readonly string[] = ['Ti.ReadWrite', 'Ti.ReadWrite.All', 'Ti.Read.All'];
const WRITE_ROLES: readonly string[] = ['Ti.ReadWrite.All'];

export interface DefenderEmulatorOptions extends ListenOptions, ValidationOptions {
  tenantId: string;
  clients: DefenderClient[];
  /** Emulated time runs this many times faster than real time (60: a "minute" per second). Default 1. */
  timeScale?: number;
  /** false disables every limit (throughput benchmarks); an object overrides per endpoint. Default true. */
  rateLimits?: boolean | Partial<Record<Exclude<Endpoint, 'token'>, RateLimit[]>>;
  /** Active indicators per tenant. Default 15000. */
  cap?: number;
  /** Reported `expires_in` and real validity, in emulated seconds. Default 3599. */
  tokenLifetimeSec?: number;
  /** Emulated clock start (ISO or epoch ms); default now. */
  startTime?: string | number;
  /**
   * Source of real time (epoch ms), default Date.now. Tests pass a fixed one, so emulated time moves
   * only with advanceClock and nothing depends on how fast the machine runs.
   */
  clock?: () => number;
  /** First indicator id handed out. Default 1. */
  firstId?: number;
  /** Rows per list response before `@odata.nextLink` (and the `$top` maximum). Default 10000. */
  maxPageSize?: number;
  /** Base URL written in `@odata.context`. Default https://api.security.microsoft.com. */
  apiBaseUrl?: string;
  /** Requests kept for requests(); counters in stats() are never trimmed. Default 10000. */
  maxRequestLog?: number;
  /** Seed of the fault-injection randomness. */
  seed?: number;
  /**
   * Store and echo Url values without their trailing slashes (`https://x.example/` → `https://x.example`),
   * as a Defender that normalizes values might; undocumented, so off by default (values kept as sent).
   */
  stripUrlTrailingSlash?: boolean;
}

export interface Indicator {
  id: string;
  indicatorValue: string;
  indicatorType: string;
  action: string;
  application: string | null;
  source: string;
  sourceType: 'AadApp' | 'User';
  title: string;
  creationTimeDateTimeUtc: string;
  createdBy: string;
  expirationTime: string | null;
  lastUpdateTime: string;
  lastUpdatedBy: string;
  severity: string | null;
  description: string;
  recommendedActions: string | null;
  rbacGroupNames: string[];
  rbacGroupIds: string[];
  generateAlert: boolean;
  educateUrl: string | null;
  externalID: string | null;
  createdBySource: string;
  createdByDisplayName: string;
}

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

/** Defender's error code for an injected status (research/defender-api.md §2.6). */
const FAULT_CODES: Record<number, string> = { 400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 429: 'TooManyRequests', 503: 'ServiceUnavailable' };

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

export interface DefenderEmulator {
  url: string;
  tokenUrl: string;
  tenantId: string;
  /** JSON for msal-node's `auth.authorityMetadata` pointing its token endpoint here. */
  authorityMetadata(): string;
  indicators(): Indicator[];
  /** Stores indicators as created by `clientId` (any id, e.g. another application's), without API limits. */
  seedIndicators(indicators: unknown[], createdBy?: { clientId: string; displayName?: string }): Indicator[];
  /** Deletes indicators out of band, as their creator would (a portal user, another application), without API limits. */
  removeIndicators(ids: readonly string[]): void;
  requests(endpoint?: Endpoint): RecordedRequest[];
  stats(): Record<Endpoint, EndpointStats>;
  /**
   * A custom-indicator alert as Defender raises it when an indicator matches on a device
   * (detectionSource CustomerTI, evidence of the indicator's value). Throws when no such indicator exists.
   */
  raiseAlert(request: RaiseAlertRequest): DefenderAlert;
  /** The event of an alert happened again: its lastEventTime and lastUpdateTime move. */
  repeatAlert(id: string, eventTime?: string | number): DefenderAlert;
  alerts(): DefenderAlert[];
  faults(spec: FaultSpec): string;
  clearFaults(): void;
  /** Every fault added since the last reset (cleared ones too), with how many requests it answered. */
  faultHits(): FaultHit[];
  /** API and token requests received and not answered yet (a slow or hanging one included). */
  pendingRequests(): number;
  setRateLimits(enabled: boolean): void;
  expireTokens(): void;
  /** Moves the emulated clock forward (expiry, token lifetime, rate windows). */
  advanceClock(ms: number): void;
  now(): number;
  /** Clears indicators, requests, stats, rate windows, faults and tokens. */
  reset(): void;
  close(): Promise<void>;
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

/** Entra/MDE timestamps have 7 fractional digits. */
const dotNetTime = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');
const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const RESOURCES = ['https://api.securitycenter.microsoft.com', 'https://api.security.microsoft.com', 'https://securitycenter.onmicrosoft.com/windowsatpservice', 'https://api.securitycenter.windows.com', 'https://api-gcc.securitycenter.microsoft.us', 'https://api-gov.securitycenter.microsoft.us'];

/** The value as stored and echoed (see `stripUrlTrailingSlash`). */
function storedValue(type: string, value: string, stripUrlTrailingSlash: boolean): string {
  return stripUrlTrailingSlash && type === 'Url' ? value.replace(/\/+$/, '') : value;
}

function indicatorKey(type: string, value: string, action: string): string {
  const normalized = type === 'Url' || type === 'IpAddress' ? value : value.toLowerCase();
  return `${type}|${normalized}|${action}`;
}

export async function startDefenderEmulator(options: DefenderEmulatorOptions): Promise<DefenderEmulator> {
  const timeScale = options.timeScale ?? 1;
  if (!(timeScale > 0)) throw new Error('timeScale must be > 0');
  const cap = options.cap ?? 15_000;
  const lifetimeSec = options.tokenLifetimeSec ?? 3599;
  const maxPage = options.maxPageSize ?? 10_000;
  const apiBase = options.apiBaseUrl ?? 'https://api.security.microsoft.com';
  const maxLog = options.maxRequestLog ?? 10_000;
  const clients = new Map(options.clients.map((c) => [c.clientId, c]));
  const random = new Random(options.seed ?? 1);
  const clock = options.clock ?? Date.now;
  const realStart = clock();
  const clockStart = options.startTime === undefined ? realStart : typeof options.startTime === 'number' ? options.startTime : Date.parse(options.startTime);
  let clockOffset = 0;
  const now = (): number => clockStart + clockOffset + (clock() - realStart) * timeScale;
  let limitsEnabled = options.rateLimits !== false;
  const limits: Partial<Record<Endpoint, RateLimit[]>> = { ...DEFAULT_RATE_LIMITS, ...(isRecord(options.rateLimits) ? options.rateLimits : {}) };

  let nextId = options.firstId ?? 1;
  const alertStore = new AlertStore(options.tenantId, () => now());
  const store = new Map<string, Indicator>();
  const byKey = new Map<string, string>();
  const tokens = new Map<string, { clientId: string; expiresAt: number }>();
  const windows = new Map<string, number[]>();
  let faultList: ActiveFault[] = [];
  // Outlives clearFaults() and expiry: a test asks afterwards whether its fault hit anything.
  let faultHistory: FaultHit[] = [];
  let pending = 0;
  let log: RecordedRequest[] = [];
  let seq = 0;
  const emptyStats = (): Record<Endpoint, EndpointStats> => Object.fromEntries((['token', ...API_ENDPOINTS] as Endpoint[]).map((e) => [e, { calls: 0, items: 0, statuses: {} }])) as Record<Endpoint, EndpointStats>;
  let counters = emptyStats();

  const purgeExpired = (): void => {
    const t = now();
    for (const [id, ind] of store) {
      if (ind.expirationTime !== null && Date.parse(ind.expirationTime) <= t) {
        store.delete(id);
        byKey.delete(indicatorKey(ind.indicatorType, ind.indicatorValue, ind.action));
      }
    }
  };

  const removeIndicator = (id: string): void => {
    const ind = store.get(id);
    if (!ind) return;
    store.delete(id);
    byKey.delete(indicatorKey(ind.indicatorType, ind.indicatorValue, ind.action));
  };

  /** Submit-or-update keyed on value + type + action; `application` and the creator are set only on create. */
  const upsert = (sent: IndicatorInput, client: { clientId: string; displayName?: string }): Indicator => {
    const input = { ...sent, indicatorValue: storedValue(sent.indicatorType, sent.indicatorValue, options.stripUrlTrailingSlash === true) };
    const key = indicatorKey(input.indicatorType, input.indicatorValue, input.action);
    const existingId = byKey.get(key);
    const t = dotNetTime(now());
    const name = client.displayName ?? client.clientId;
    const existing = existingId === undefined ? undefined : store.get(existingId);
    if (existing) {
      const updated: Indicator = {
        ...existing,
        title: input.title,
        description: input.description,
        expirationTime: input.expirationTime === undefined ? existing.expirationTime : input.expirationTime,
        lastUpdateTime: t,
        lastUpdatedBy: name,
        severity: input.severity === undefined ? existing.severity : input.severity,
        recommendedActions: input.recommendedActions === undefined ? existing.recommendedActions : input.recommendedActions,
        rbacGroupNames: input.rbacGroupNames ?? existing.rbacGroupNames,
        rbacGroupIds: input.rbacGroupIds ?? existing.rbacGroupIds,
        generateAlert: input.generateAlert ?? existing.generateAlert,
        educateUrl: input.educateUrl === undefined ? existing.educateUrl : input.educateUrl,
        externalID: input.externalID === undefined ? existing.externalID : input.externalID,
      };
      store.set(existing.id, updated);
      return updated;
    }
    if (store.size >= cap) throw new ValidationError('BadRequest', `The tenant reached its limit of ${cap} active indicators.`);
    const id = String(nextId++);
    const created: Indicator = {
      id,
      indicatorValue: input.indicatorValue,
      indicatorType: input.indicatorType,
      action: input.action,
      application: input.application ?? null,
      source: name,
      sourceType: 'AadApp',
      title: input.title,
      creationTimeDateTimeUtc: t,
      createdBy: client.clientId,
      expirationTime: input.expirationTime ?? null,
      lastUpdateTime: t,
      lastUpdatedBy: name,
      severity: input.severity ?? null,
      description: input.description,
      recommendedActions: input.recommendedActions ?? null,
      rbacGroupNames: input.rbacGroupNames ?? [],
      rbacGroupIds: input.rbacGroupIds ?? [],
      generateAlert: input.generateAlert ?? false,
      educateUrl: input.educateUrl ?? null,
      externalID: input.externalID ?? null,
      createdBySource: 'PublicApi',
      createdByDisplayName: name,
    };
    store.set(id, created);
    byKey.set(key, id);
    return created;
  };

  // ---- HTTP plumbing ----------------------------------------------------------------------------

  const apiError = (res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): number => {
    sendJson(res, status, { error: { code, message, target: randomUUID() } }, headers);
    return status;
  };

  const tokenError = (res: ServerResponse, status: number, error: string, code: number, description: string): number => {
    const trace = randomUUID();
    const correlation = randomUUID();
    const timestamp = new Date().toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
    sendJson(res, status, {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: ${trace} Correlation ID: ${correlation} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: trace,
      correlation_id: correlation,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    });
    return status;
  };

  const handleToken = async (req: IncomingMessage, res: ServerResponse, tenant: string): Promise<{ status: number; clientId?: string; body: Record<string, string> }> => {
    const form = new URLSearchParams(await readBody(req));
    const clientId = form.get('client_id') ?? undefined;
    // Recorded for assertions on what a client sends; the secret itself is never kept.
    const body = Object.fromEntries([...form].map(([k, v]) => [k, k === 'client_secret' ? '[redacted]' : v]));
    return { ...tokenResponse(res, tenant, form, clientId), body };
  };

  const tokenResponse = (res: ServerResponse, tenant: string, form: URLSearchParams, clientId: string | undefined): { status: number; clientId?: string } => {
    if (tenant !== options.tenantId) return { status: tokenError(res, 400, 'invalid_request', 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`) };
    if (form.get('grant_type') !== 'client_credentials') return { status: tokenError(res, 400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.'), clientId };
    const client = clientId === undefined ? undefined : clients.get(clientId);
    if (!client) return { status: tokenError(res, 400, 'unauthorized_client', 700016, `Application with identifier '${clientId ?? ''}' was not found in the directory '${tenant}'.`), clientId };
    if (form.get('client_secret') !== client.clientSecret) {
      return { status: tokenError(res, 400, 'invalid_client', 7000215, `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${client.clientId}'.`), clientId };
    }
    const scope = form.get('scope') ?? '';
    const resource = scope.endsWith('/.default') ? scope.slice(0, -'/.default'.length) : undefined;
    if (resource === undefined || !RESOURCES.includes(resource.replace(/\/$/, ''))) {
      return { status: tokenError(res, 400, 'invalid_scope', 1002012, `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`), clientId };
    }
    const roles = [...(client.roles ?? DEFAULT_ROLES)];
    const issued = now();
    const expiresAt = issued + lifetimeSec * 1000;
    for (const [token, info] of tokens) if (info.expiresAt <= issued) tokens.delete(token);
    const accessToken = `${b64url({ typ: 'JWT', alg: 'RS256', kid: 'emulator' })}.${b64url({ aud: resource, iss: `https://sts.windows.net/${tenant}/`, iat: Math.floor(issued / 1000), nbf: Math.floor(issued / 1000), exp: Math.floor(expiresAt / 1000), appid: client.clientId, tid: tenant, ...(roles.length > 0 && { roles }) })}.${randomBytes(32).toString('base64url')}`;
    tokens.set(accessToken, { clientId: client.clientId, expiresAt });
    sendJson(res, 200, { token_type: 'Bearer', expires_in: lifetimeSec, ext_expires_in: lifetimeSec, access_token: accessToken });
    return { status: 200, clientId };
  };

  const authenticate = (req: IncomingMessage): string | undefined => {
    const header = req.headers.authorization;
    if (!header?.startsWith('Bearer ')) return undefined;
    const info = tokens.get(header.slice(7).trim());
    if (!info || info.expiresAt <= now()) return undefined;
    return info.clientId;
  };

  /** Sliding windows per app and endpoint; returns the Retry-After seconds when over a limit. */
  const rateLimit = (endpoint: Endpoint, clientId: string): number | undefined => {
    const rules = limitsEnabled ? limits[endpoint] : undefined;
    if (!rules || rules.length === 0) return undefined;
    const key = `${clientId}|${endpoint}`;
    const t = now();
    const longest = Math.max(...rules.map((r) => r.windowMs));
    const calls = (windows.get(key) ?? []).filter((c) => c > t - longest);
    windows.set(key, calls);
    let waitMs = 0;
    for (const rule of rules) {
      const inWindow = calls.filter((c) => c > t - rule.windowMs);
      if (inWindow.length >= rule.limit) waitMs = Math.max(waitMs, inWindow[inWindow.length - rule.limit]! + rule.windowMs - t);
    }
    if (waitMs > 0) return Math.max(1, Math.ceil(waitMs / timeScale / 1000));
    calls.push(t);
    return undefined;
  };

  const pickFault = (endpoint: Endpoint, body: string | undefined): ActiveFault[] => {
    const t = now();
    faultList = faultList.filter((f) => (f.until === undefined || f.until > t) && (f.calls === undefined || f.used < f.calls));
    return faultList.filter((f) => (f.endpoints ?? API_ENDPOINTS).includes(endpoint) && (f.bodyIncludes === undefined || (body?.includes(f.bodyIncludes) ?? false)) && random.next() < (f.rate ?? 1));
  };

  // The body is read once: by a fault that looks into it (bodyIncludes), then by the API handler.
  const bodies = new WeakMap<IncomingMessage, Promise<string>>();
  const bodyText = (req: IncomingMessage): Promise<string> => {
    let text = bodies.get(req);
    if (!text) bodies.set(req, (text = readBody(req)));
    return text;
  };

  const classify = (method: string, path: string): { endpoint: Endpoint | 'unknown'; id?: string; tenant?: string } => {
    const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path);
    if (token && method === 'POST') return { endpoint: 'token', tenant: decodeURIComponent(token[1]!) };
    if (method === 'GET' && /^\/api(?:\/v[\d.]+)?\/alerts\/?$/i.test(path)) return { endpoint: 'alerts' };
    const api = /^\/api(?:\/v[\d.]+)?\/indicators(?:\/([^/]+))?\/?$/i.exec(path);
    if (!api) return { endpoint: 'unknown' };
    const sub = api[1];
    if (sub === undefined) return { endpoint: method === 'GET' ? 'list' : method === 'POST' ? 'submit' : 'unknown' };
    if (method === 'POST' && sub.toLowerCase() === 'import') return { endpoint: 'import' };
    if (method === 'POST' && sub.toLowerCase() === 'batchdelete') return { endpoint: 'batchDelete' };
    if (method === 'DELETE') return { endpoint: 'delete', id: decodeURIComponent(sub) };
    return { endpoint: 'unknown' };
  };

  const record = (entry: Omit<RecordedRequest, 'seq' | 'time'>): void => {
    seq += 1;
    log.push({ seq, time: new Date(now()).toISOString(), ...entry });
    if (log.length > maxLog) log = log.slice(log.length - maxLog);
    if (entry.endpoint === 'unknown') return;
    const s = counters[entry.endpoint];
    s.calls += 1;
    s.items += entry.items ?? 0;
    s.statuses[entry.status] = (s.statuses[entry.status] ?? 0) + 1;
  };

  const parseJsonBody = async (req: IncomingMessage): Promise<unknown> => {
    const text = await bodyText(req);
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new ValidationError('InvalidRequestBody', 'The request body is not valid JSON.');
    }
  };

  /** `$top` (at most the page size) and `$skip` of a list request, or Defender's ODataError message. */
  const pageOptions = (url: URL): { top: number | undefined; skip: number } | string => {
    const topText = url.searchParams.get('$top');
    const skipText = url.searchParams.get('$skip');
    const top = topText === null ? undefined : Number(topText);
    const skip = skipText === null ? 0 : Number(skipText);
    if (top !== undefined && (!Number.isInteger(top) || top < 0)) return `Invalid value '${topText}' for $top query option found.`;
    if (top !== undefined && top > maxPage) return `The limit of '${maxPage}' for Top query has been exceeded. The value from the incoming request is '${top}'.`;
    if (!Number.isInteger(skip) || skip < 0) return `Invalid value '${skipText}' for $skip query option found.`;
    return { top, skip };
  };

  const handleApi = async (req: IncomingMessage, res: ServerResponse, url: URL, endpoint: Exclude<Endpoint, 'token'>, clientId: string, id: string | undefined): Promise<{ status: number; items?: number; body?: unknown; failures?: string[] }> => {
    const client = clients.get(clientId)!;
    purgeExpired();
    switch (endpoint) {
      case 'list': {
        const filterText = url.searchParams.get('$filter');
        const paging = pageOptions(url);
        if (typeof paging === 'string') return { status: apiError(res, 400, 'ODataError', paging) };
        const { top, skip } = paging;
        let rows = [...store.values()];
        if (filterText !== null) {
          const tree = parseFilter(filterText);
          rows = rows.filter((r) => evaluate(tree, r as unknown as Record<string, unknown>));
        }
        const pageSize = top ?? maxPage;
        const page = rows.slice(skip, skip + pageSize);
        const body: Record<string, unknown> = { '@odata.context': `${apiBase}/api/$metadata#Indicators`, value: page };
        if (top === undefined && rows.length > skip + pageSize) {
          const next = new URL(url.pathname, apiBase === 'https://api.security.microsoft.com' ? `http://${req.headers.host ?? 'localhost'}` : apiBase);
          for (const [k, v] of url.searchParams) if (k !== '$skip') next.searchParams.set(k, v);
          next.searchParams.set('$skip', String(skip + pageSize));
          body['@odata.nextLink'] = next.toString();
        }
        sendJson(res, 200, body);
        return { status: 200 };
      }
      case 'alerts': {
        const paging = pageOptions(url);
        if (typeof paging === 'string') return { status: apiError(res, 400, 'ODataError', paging) };
        const { top, skip } = paging;
        const expand = url.searchParams.get('$expand');
        if (expand !== null && expand.toLowerCase() !== 'evidence') return { status: apiError(res, 400, 'ODataError', `Could not find a property named '${expand}' to expand on type 'Alert'.`) };
        const pageSize = top ?? maxPage;
        const { rows, total } = alertStore.list({ filter: url.searchParams.get('$filter'), top: pageSize, skip, expandEvidence: expand !== null });
        const body: Record<string, unknown> = { '@odata.context': `${apiBase}/api/$metadata#Alerts`, value: rows };
        if (top === undefined && total > skip + pageSize) {
          const next = new URL(url.pathname, apiBase === 'https://api.security.microsoft.com' ? `http://${req.headers.host ?? 'localhost'}` : apiBase);
          for (const [k, v] of url.searchParams) if (k !== '$skip') next.searchParams.set(k, v);
          next.searchParams.set('$skip', String(skip + pageSize));
          body['@odata.nextLink'] = next.toString();
        }
        sendJson(res, 200, body);
        return { status: 200, items: rows.length };
      }
      case 'submit': {
        const body = await parseJsonBody(req);
        const indicator = upsert(validateIndicator(body, options), client);
        sendJson(res, 200, { '@odata.context': `${apiBase}/api/$metadata#Indicators/$entity`, ...indicator });
        return { status: 200, items: 1, body };
      }
      case 'import': {
        const body = await parseJsonBody(req);
        const list = isRecord(body) ? body.Indicators : undefined;
        if (!Array.isArray(list)) return { status: apiError(res, 400, 'InvalidRequestBody', "The request body must be {\"Indicators\": [...]} (parameter names are case-sensitive)."), body };
        if (list.length === 0) return { status: apiError(res, 400, 'InvalidRequestBody', 'The Indicators list is empty.'), body, items: 0 };
        if (list.length > 500) return { status: apiError(res, 400, 'MaximumBatchSizeExceeded', `Maximum batch size exceeded. Received: ${list.length}, allowed: 500.`), body, items: list.length };
        const itemFaults = faultList.filter((f) => f.type === 'item' && (f.endpoints ?? API_ENDPOINTS).includes('import'));
        const value = list.map((item: unknown) => {
          const indicatorValue = isRecord(item) && typeof item.indicatorValue === 'string' ? item.indicatorValue : null;
          const text = JSON.stringify(item);
          const failing = itemFaults.find((f) => (f.calls === undefined || f.used < f.calls) && (f.bodyIncludes === undefined || text.includes(f.bodyIncludes)) && random.next() < (f.rate ?? 1));
          if (failing) {
            failing.used += 1;
            return { id: null, indicator: indicatorValue, isFailed: true, failureReason: failing.message ?? 'Injected fault.' };
          }
          try {
            const stored = upsert(validateIndicator(item, options), client);
            return { id: stored.id, indicator: stored.indicatorValue, isFailed: false, failureReason: null };
          } catch (err) {
            if (!(err instanceof ValidationError)) throw err;
            return { id: null, indicator: indicatorValue, isFailed: true, failureReason: err.message };
          }
        });
        sendJson(res, 200, { value });
        const failures = value.flatMap((v) => (v.isFailed ? [v.failureReason ?? ''] : []));
        return { status: 200, items: list.length, body, ...(failures.length > 0 && { failures }) };
      }
      case 'delete': {
        if (id === undefined || !store.has(id)) return { status: apiError(res, 404, 'NotFound', `Indicator ${id ?? ''} was not found.`) };
        removeIndicator(id);
        res.writeHead(204).end();
        return { status: 204, items: 1 };
      }
      case 'batchDelete': {
        const body = await parseJsonBody(req);
        const ids = isRecord(body) ? body.IndicatorIds : undefined;
        if (!Array.isArray(ids)) return { status: apiError(res, 400, 'InvalidRequestBody', 'The request body must be {"IndicatorIds": [...]} (parameter names are case-sensitive).'), body };
        if (ids.length === 0) return { status: apiError(res, 400, 'InvalidRequestBody', 'The IndicatorIds list is empty.'), body, items: 0 };
        if (ids.length > 500) return { status: apiError(res, 400, 'MaximumBatchSizeExceeded', `Maximum batch size exceeded. Received: ${ids.length}, allowed: 500.`), body, items: ids.length };
        if (ids.some((i) => typeof i !== 'string' || !/^\d+$/.test(i))) return { status: apiError(res, 400, 'InvalidRequestBody', 'IndicatorIds must be indicator ids given as strings.'), body, items: ids.length };
        const missing = (ids as string[]).filter((i) => !store.has(i));
        // Undocumented whether a 404 deletes the others; this emulator deletes nothing (the conservative case).
        if (missing.length > 0) return { status: apiError(res, 404, 'NotFound', `Indicators not found: ${missing.join(', ')}.`), body, items: ids.length };
        (ids as string[]).forEach(removeIndicator);
        res.writeHead(204).end();
        return { status: 204, items: ids.length, body };
      }
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    if (url.pathname.startsWith('/_emulator/')) return control(req, res, url);
    pending += 1;
    res.once('close', () => {
      pending -= 1;
    });
    const openid = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(url.pathname);
    if (method === 'GET' && openid) return sendJson(res, 200, JSON.parse(authorityMetadata()) as unknown);
    const { endpoint, id, tenant } = classify(method, url.pathname);
    if (endpoint === 'unknown') {
      const status = apiError(res, 404, 'ResourceNotFound', `No route ${method} ${url.pathname}.`);
      record({ method, path: url.pathname, ...(url.search !== '' && { query: url.search }), endpoint, clientId: undefined, status });
      return;
    }
    const peek = endpoint !== 'token' && faultList.some((f) => f.bodyIncludes !== undefined && (f.endpoints ?? API_ENDPOINTS).includes(endpoint));
    const body = peek ? await bodyText(req) : undefined;
    for (const fault of pickFault(endpoint, body)) {
      if (fault.type === 'item') continue; // applied per item by the import handler
      fault.used += 1;
      const hit = faultHistory.find((h) => h.id === fault.id);
      if (hit) hit.hits = fault.used;
      if (fault.type === 'latency') {
        await new Promise((r) => setTimeout(r, fault.latencyMs ?? 1000));
        continue;
      }
      record({ method, path: url.pathname, ...(url.search !== '' && { query: url.search }), endpoint, clientId: undefined, status: fault.type === 'status' ? (fault.status ?? 503) : fault.type === 'unauthorized' ? 401 : 0, fault: fault.type });
      if (fault.type === 'timeout') return; // the socket stays open until the client gives up or the emulator closes
      if (fault.type === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault.type === 'unauthorized') {
        apiError(res, 401, 'Unauthorized', 'The access token is invalid or has expired.');
        return;
      }
      const status = fault.status ?? 503;
      const headers: Record<string, string> = fault.retryAfterSec === undefined ? {} : { 'retry-after': String(fault.retryAfterSec) };
      apiError(res, status, fault.code ?? FAULT_CODES[status] ?? 'InternalServerError', fault.message ?? 'Injected fault.', headers);
      return;
    }
    if (endpoint === 'token') {
      const result = await handleToken(req, res, tenant!);
      record({ method, path: url.pathname, ...(url.search !== '' && { query: url.search }), endpoint, clientId: result.clientId, status: result.status, body: result.body });
      return;
    }
    const clientId = authenticate(req);
    if (clientId === undefined) {
      const status = apiError(res, 401, 'Unauthorized', 'The access token is missing, invalid or has expired.');
      record({ method, path: url.pathname, ...(url.search !== '' && { query: url.search }), endpoint, clientId, status });
      return;
    }
    const granted = clients.get(clientId)?.roles ?? DEFAULT_ROLES;
    if (!granted.some((r) => (endpoint === 'list' ? READ_ROLES : WRITE_ROLES).includes(r))) {
      req.resume();
      const status = apiError(res, 403, 'Forbidden', `The application lacks the permission this call needs (${endpoint === 'list' ? 'Ti.ReadWrite, Ti.ReadWrite.All or Ti.Read.All' : 'Ti.ReadWrite.All'}).`);
      record({ method, path: url.pathname, endpoint, clientId, status });
      return;
    }
    const retryAfter = rateLimit(endpoint, clientId);
    if (retryAfter !== undefined) {
      req.resume();
      const status = apiError(res, 429, 'TooManyRequests', `Rate limit is exceeded. Try again in ${retryAfter} seconds.`, { 'retry-after': String(retryAfter) });
      record({ method, path: url.pathname, ...(url.search !== '' && { query: url.search }), endpoint, clientId, status });
      return;
    }
    try {
      const result = await handleApi(req, res, url, endpoint, clientId, id);
      record({ method, path: url.pathname, ...(url.search !== '' && { query: url.search }), endpoint, clientId, ...result });
    } catch (err) {
      if (err instanceof ValidationError) {
        record({ method, path: url.pathname, ...(url.search !== '' && { query: url.search }), endpoint, clientId, status: apiError(res, 400, err.code, err.message) });
      } else if (err instanceof ODataError) {
        record({ method, path: url.pathname, ...(url.search !== '' && { query: url.search }), endpoint, clientId, status: apiError(res, 400, 'ODataError', err.message) });
      } else {
        throw err;
      }
    }
  };

  // ---- control surface ----------------------------------------------------------------------------

  const authorityMetadata = (): string => {
    const base = `${server.url}/${options.tenantId}`;
    return JSON.stringify({
      token_endpoint: `${base}/oauth2/v2.0/token`,
      token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
      jwks_uri: `${server.url}/common/discovery/v2.0/keys`,
      response_modes_supported: ['query', 'fragment', 'form_post'],
      subject_types_supported: ['pairwise'],
      id_token_signing_alg_values_supported: ['RS256'],
      response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
      scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
      issuer: `https://login.microsoftonline.com/${options.tenantId}/v2.0`,
      authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
      end_session_endpoint: `${base}/oauth2/v2.0/logout`,
    });
  };

  const seedIndicators = (items: unknown[], createdBy: { clientId: string; displayName?: string } = { clientId: randomUUID(), displayName: 'Other application' }): Indicator[] =>
    items.map((item) => upsert(validateIndicator(item, options), createdBy));

  const eventTime = (t: string | number | undefined): number | undefined => {
    if (t === undefined) return undefined;
    const ms = typeof t === 'number' ? t : Date.parse(t);
    if (Number.isNaN(ms)) throw new HttpError(400, `eventTime is not a time: ${String(t)}`);
    return ms;
  };

  const raiseAlert = (r: RaiseAlertRequest): DefenderAlert => {
    purgeExpired();
    const indicator = r.indicatorId !== undefined
      ? store.get(r.indicatorId)
      : [...store.values()].find((i) => i.indicatorType === r.indicatorType && i.indicatorValue.toLowerCase() === (r.indicatorValue ?? '').toLowerCase());
    if (!indicator) throw new HttpError(400, `no active indicator ${r.indicatorId ?? `${r.indicatorType ?? '?'} ${r.indicatorValue ?? '?'}`} to raise an alert on`);
    return alertStore.raise({
      indicator,
      ...(r.machineId !== undefined && { machineId: r.machineId }),
      ...(r.computerDnsName !== undefined && { computerDnsName: r.computerDnsName }),
      ...(r.eventTime !== undefined && { eventTime: eventTime(r.eventTime) }),
      ...(r.evidence !== undefined && { evidence: r.evidence }),
    });
  };

  const repeatAlert = (id: string, t?: string | number): DefenderAlert => {
    const alert = alertStore.repeat(id, eventTime(t));
    if (!alert) throw new HttpError(404, `no alert ${id}`);
    return alert;
  };

  const reset = (): void => {
    alertStore.clear();
    store.clear();
    byKey.clear();
    tokens.clear();
    windows.clear();
    faultList = [];
    faultHistory = [];
    log = [];
    counters = emptyStats();
  };

  const addFault = (spec: FaultSpec): string => {
    if (!['status', 'latency', 'timeout', 'drop', 'unauthorized', 'item'].includes(spec.type)) throw new HttpError(400, `unknown fault type ${String(spec.type)}`);
    const id = randomUUID();
    faultList.push({ ...spec, id, used: 0, until: spec.durationMs === undefined ? undefined : now() + spec.durationMs });
    faultHistory.push({ id, spec: { ...spec }, hits: 0 });
    return id;
  };

  const control = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const body = method === 'GET' ? undefined : await readJson(req);
    const fields = isRecord(body) ? body : {};
    if (method === 'GET' && path === '/_emulator/indicators') { purgeExpired(); return sendJson(res, 200, [...store.values()]); }
    if (method === 'POST' && path === '/_emulator/indicators') {
      const items = Array.isArray(fields.indicators) ? fields.indicators : [];
      const createdBy = typeof fields.clientId === 'string' ? { clientId: fields.clientId, displayName: typeof fields.displayName === 'string' ? fields.displayName : undefined } : undefined;
      try {
        return sendJson(res, 200, seedIndicators(items, createdBy));
      } catch (err) {
        if (err instanceof ValidationError) throw new HttpError(400, `${err.code}: ${err.message}`);
        throw err;
      }
    }
    if (method === 'GET' && path === '/_emulator/requests') {
      const endpoint = url.searchParams.get('endpoint');
      return sendJson(res, 200, endpoint === null ? log : log.filter((r) => r.endpoint === endpoint));
    }
    if (method === 'GET' && path === '/_emulator/stats') return sendJson(res, 200, counters);
    if (method === 'GET' && path === '/_emulator/alerts') return sendJson(res, 200, alertStore.all());
    if (method === 'POST' && path === '/_emulator/alerts') return sendJson(res, 200, raiseAlert(fields));
    if (method === 'POST' && path === '/_emulator/alerts/repeat') {
      if (typeof fields.id !== 'string') throw new HttpError(400, 'id (string) is required');
      return sendJson(res, 200, repeatAlert(fields.id, fields.eventTime as string | number | undefined));
    }
    if (method === 'POST' && path === '/_emulator/faults') return sendJson(res, 200, { id: addFault(fields as unknown as FaultSpec) });
    if (method === 'GET' && path === '/_emulator/faults') return sendJson(res, 200, faultHistory);
    if (method === 'DELETE' && path === '/_emulator/faults') { faultList = []; return sendJson(res, 200, {}); }
    if (method === 'POST' && path === '/_emulator/reset') { reset(); return sendJson(res, 200, {}); }
    if (method === 'POST' && path === '/_emulator/tokens/expire') { tokens.clear(); return sendJson(res, 200, {}); }
    if (method === 'POST' && path === '/_emulator/clock') {
      if (typeof fields.advanceMs !== 'number') throw new HttpError(400, 'advanceMs (number) is required');
      clockOffset += fields.advanceMs;
      return sendJson(res, 200, { now: new Date(now()).toISOString() });
    }
    if (method === 'PUT' && path === '/_emulator/rate-limits') {
      if (typeof fields.enabled !== 'boolean') throw new HttpError(400, 'enabled (boolean) is required');
      limitsEnabled = fields.enabled;
      return sendJson(res, 200, { enabled: limitsEnabled });
    }
    throw new HttpError(404, `no control endpoint ${method} ${path}`);
  };

  const server = await listen(handle, options, (err, res) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof HttpError) sendJson(res, err.status, { error: err.message });
    else apiError(res, 500, 'InternalServerError', err instanceof Error ? err.message : String(err));
  });

  return {
    url: server.url,
    tokenUrl: `${server.url}/${options.tenantId}/oauth2/v2.0/token`,
    tenantId: options.tenantId,
    authorityMetadata,
    indicators: () => {
      purgeExpired();
      return [...store.values()];
    },
    seedIndicators,
    removeIndicators: (ids: readonly string[]) => ids.forEach(removeIndicator),
    requests: (endpoint) => (endpoint === undefined ? [...log] : log.filter((r) => r.endpoint === endpoint)),
    stats: () => structuredClone(counters),
    raiseAlert,
    repeatAlert,
    alerts: () => structuredClone(alertStore.all()),
    faults: addFault,
    clearFaults: () => {
      faultList = [];
    },
    faultHits: () => structuredClone(faultHistory),
    pendingRequests: () => pending,
    setRateLimits: (enabled) => {
      limitsEnabled = enabled;
    },
    expireTokens: () => tokens.clear(),
    advanceClock: (ms) => {
      clockOffset += ms;
    },
    now,
    reset,
    close: () => server.close(),
  };
}
