// The request pipeline of the emulated Defender: discovery, faults, the token endpoint, then for the
// API bearer token (401), app roles (403), rate limits (429) and the handler; every call is logged.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody, sendJson } from '../http.ts';
import { handleApi, type ApiParts } from './api.ts';
import { apiError } from './api-error.ts';
import type { TokenIssuer } from './auth.ts';
import { bodyText } from './body.ts';
import { classify } from './endpoints.ts';
import { ODataError } from './odata.ts';
import type { RateLimiter } from './rate-limits.ts';
import type { RequestLog } from './requests.ts';
import { ValidationError } from './validation.ts';

export interface RouteParts extends ApiParts {
  tokens: TokenIssuer;
  limiter: RateLimiter;
  log: RequestLog;
  /** The OpenID discovery document (msal's authority metadata). */
  authorityMetadata: () => string;
}

type Routes = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function defenderRoutes(parts: RouteParts): Routes {
  const { tokens, limiter, log, faults } = parts;
  return async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://emulator');
    const method = req.method ?? 'GET';
    const at = { method, path: url.pathname, ...(url.search !== '' && { query: url.search }) };
    const openid = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(url.pathname);
    if (method === 'GET' && openid) return sendJson(res, 200, JSON.parse(parts.authorityMetadata()) as unknown);
    const { endpoint, id, tenant } = classify(method, url.pathname);
    if (endpoint === 'unknown') {
      log.record({ ...at, endpoint, clientId: undefined, status: apiError(res, 404, 'ResourceNotFound', `No route ${method} ${url.pathname}.`) });
      return;
    }
    const body = faults.readsBody(endpoint) ? await bodyText(req) : undefined;
    const fault = await faults.apply(endpoint, body, req, res);
    if (fault.answered) {
      log.record({ ...at, endpoint, clientId: undefined, status: fault.status, fault: fault.type });
      return;
    }
    if (endpoint === 'token') {
      const form = new URLSearchParams(await readBody(req));
      const answer = tokens.issue(tenant!, form);
      sendJson(res, answer.status, answer.body);
      // Recorded for assertions on what a client sends; the secret itself is never kept.
      const sent = Object.fromEntries([...form].map(([k, v]) => [k, k === 'client_secret' ? '[redacted]' : v]));
      log.record({ ...at, endpoint, clientId: answer.clientId, status: answer.status, body: sent });
      return;
    }
    const clientId = tokens.authenticate(req.headers.authorization);
    if (clientId === undefined) {
      log.record({ ...at, endpoint, clientId, status: apiError(res, 401, 'Unauthorized', 'The access token is missing, invalid or has expired.') });
      return;
    }
    const needed = tokens.missingPermission(clientId, endpoint);
    if (needed !== undefined) {
      req.resume();
      log.record({ method, path: url.pathname, endpoint, clientId, status: apiError(res, 403, 'Forbidden', `The application lacks the permission this call needs (${needed}).`) });
      return;
    }
    const retryAfter = limiter.check(endpoint, clientId);
    if (retryAfter !== undefined) {
      req.resume();
      log.record({ ...at, endpoint, clientId, status: apiError(res, 429, 'TooManyRequests', `Rate limit is exceeded. Try again in ${retryAfter} seconds.`, { 'retry-after': String(retryAfter) }) });
      return;
    }
    const client = tokens.client(clientId)!;
    try {
      const outcome = await handleApi(parts, { req, res, url, endpoint, client, id });
      log.record({ ...at, endpoint, clientId, ...outcome });
    } catch (err) {
      if (err instanceof ValidationError) log.record({ ...at, endpoint, clientId, status: apiError(res, 400, err.code, err.message) });
      else if (err instanceof ODataError) log.record({ ...at, endpoint, clientId, status: apiError(res, 400, 'ODataError', err.message) });
      else throw err;
    }
  };
}
