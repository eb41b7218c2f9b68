// The indicators and alerts API handlers (list, submit, import, delete, BatchDelete, alerts), as
// research/defender-api.md documents them. The request pipeline in front of them is routes.ts.
import { isRecord } from '@octi-defender/indicators';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from '../http.ts';
import type { AlertStore } from './alerts.ts';
import { apiError } from './api-error.ts';
import { jsonBody } from './body.ts';
import type { Endpoint } from './endpoints.ts';
import type { FaultInjector } from './faults.ts';
import { evaluate, parseFilter } from './odata.ts';
import type { RecordedRequest } from './requests.ts';
import type { Creator, IndicatorStore } from './store.ts';
import { validateIndicator, ValidationError, type ValidationOptions } from './validation.ts';

export interface ApiParts {
  store: IndicatorStore;
  alerts: AlertStore;
  faults: FaultInjector;
  validation: ValidationOptions;
  /** Rows per list response before `@odata.nextLink` (and the `$top` maximum). */
  maxPageSize: number;
  /** Base URL written in `@odata.context`. */
  apiBaseUrl: string;
}

/** What the request log keeps of an answered call. */
type ApiOutcome = Pick<RecordedRequest, 'status' | 'items' | 'body' | 'failures'>;

interface ApiCall {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  endpoint: Exclude<Endpoint, 'token'>;
  client: Creator;
  /** DELETE /api/indicators/{id}. */
  id: string | undefined;
}

const PUBLIC_API = 'https://api.security.microsoft.com';

/** `$top` (at most the page size) and `$skip` of a list request, or Defender's ODataError message. */
function pageOptions(url: URL, maxPage: number): { top: number | undefined; skip: number } | string {
  const topText = url.searchParams.get('$top');
  const skipText = url.searchParams.get('$skip');
  const top = topText === null ? undefined : Number(topText);
  const skip = skipText === null ? 0 : Number(skipText);
  if (top !== undefined && (!Number.isInteger(top) || top < 0)) return `Invalid value '${topText}' for $top query option found.`;
  if (top !== undefined && top > maxPage) return `The limit of '${maxPage}' for Top query has been exceeded. The value from the incoming request is '${top}'.`;
  if (!Number.isInteger(skip) || skip < 0) return `Invalid value '${skipText}' for $skip query option found.`;
  return { top, skip };
}

/** The next page's link: the request's own query with `$skip` moved on (on the emulator's host unless a base URL was set). */
function nextLink(req: IncomingMessage, url: URL, apiBase: string, skip: number): string {
  const next = new URL(url.pathname, apiBase === PUBLIC_API ? `http://${req.headers.host ?? 'localhost'}` : apiBase);
  for (const [k, v] of url.searchParams) if (k !== '$skip') next.searchParams.set(k, v);
  next.searchParams.set('$skip', String(skip));
  return next.toString();
}

/** Answers one authenticated, allowed and not rate-limited API call; throws ValidationError or ODataError for a 400. */
export async function handleApi(parts: ApiParts, call: ApiCall): Promise<ApiOutcome> {
  const { store, maxPageSize: maxPage, apiBaseUrl: apiBase } = parts;
  const { req, res, url, client, id } = call;
  store.purgeExpired();
  switch (call.endpoint) {
    case 'list': {
      const filterText = url.searchParams.get('$filter');
      const paging = pageOptions(url, maxPage);
      if (typeof paging === 'string') return { status: apiError(res, 400, 'ODataError', paging) };
      const { top, skip } = paging;
      let rows = store.values();
      if (filterText !== null) {
        const tree = parseFilter(filterText);
        rows = rows.filter((r) => evaluate(tree, r as unknown as Record<string, unknown>));
      }
      const pageSize = top ?? maxPage;
      const body: Record<string, unknown> = { '@odata.context': `${apiBase}/api/$metadata#Indicators`, value: rows.slice(skip, skip + pageSize) };
      if (top === undefined && rows.length > skip + pageSize) body['@odata.nextLink'] = nextLink(req, url, apiBase, skip + pageSize);
      sendJson(res, 200, body);
      return { status: 200 };
    }
    case 'alerts': {
      const paging = pageOptions(url, maxPage);
      if (typeof paging === 'string') return { status: apiError(res, 400, 'ODataError', paging) };
      const { top, skip } = paging;
      const expand = url.searchParams.get('$expand');
      if (expand !== null && expand.toLowerCase() !== 'evidence') return { status: apiError(res, 400, 'ODataError', `Could not find a property named '${expand}' to expand on type 'Alert'.`) };
      const pageSize = top ?? maxPage;
      const { rows, total } = parts.alerts.list({ filter: url.searchParams.get('$filter'), top: pageSize, skip, expandEvidence: expand !== null });
      const body: Record<string, unknown> = { '@odata.context': `${apiBase}/api/$metadata#Alerts`, value: rows };
      if (top === undefined && total > skip + pageSize) body['@odata.nextLink'] = nextLink(req, url, apiBase, skip + pageSize);
      sendJson(res, 200, body);
      return { status: 200, items: rows.length };
    }
    case 'submit': {
      const body = await jsonBody(req);
      const indicator = store.upsert(validateIndicator(body, parts.validation), client);
      sendJson(res, 200, { '@odata.context': `${apiBase}/api/$metadata#Indicators/$entity`, ...indicator });
      return { status: 200, items: 1, body };
    }
    case 'import': {
      const body = await jsonBody(req);
      const list = isRecord(body) ? body.Indicators : undefined;
      if (!Array.isArray(list)) return { status: apiError(res, 400, 'InvalidRequestBody', 'The request body must be {"Indicators": [...]} (parameter names are case-sensitive).'), body };
      if (list.length === 0) return { status: apiError(res, 400, 'InvalidRequestBody', 'The Indicators list is empty.'), body, items: 0 };
      if (list.length > 500) return { status: apiError(res, 400, 'MaximumBatchSizeExceeded', `Maximum batch size exceeded. Received: ${list.length}, allowed: 500.`), body, items: list.length };
      const itemFaults = parts.faults.itemFaults();
      const value = list.map((item: unknown) => {
        const indicatorValue = isRecord(item) && typeof item.indicatorValue === 'string' ? item.indicatorValue : null;
        const injected = itemFaults.failItem(item);
        if (injected !== undefined) return { id: null, indicator: indicatorValue, isFailed: true, failureReason: injected };
        try {
          const stored = store.upsert(validateIndicator(item, parts.validation), client);
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
      store.remove(id);
      res.writeHead(204).end();
      return { status: 204, items: 1 };
    }
    case 'batchDelete': {
      const body = await jsonBody(req);
      const ids = isRecord(body) ? body.IndicatorIds : undefined;
      if (!Array.isArray(ids)) return { status: apiError(res, 400, 'InvalidRequestBody', 'The request body must be {"IndicatorIds": [...]} (parameter names are case-sensitive).'), body };
      if (ids.length === 0) return { status: apiError(res, 400, 'InvalidRequestBody', 'The IndicatorIds list is empty.'), body, items: 0 };
      if (ids.length > 500) return { status: apiError(res, 400, 'MaximumBatchSizeExceeded', `Maximum batch size exceeded. Received: ${ids.length}, allowed: 500.`), body, items: ids.length };
      if (ids.some((i) => typeof i !== 'string' || !/^\d+$/.test(i))) {
        return { status: apiError(res, 400, 'InvalidRequestBody', 'IndicatorIds must be indicator ids given as strings.'), body, items: ids.length };
      }
      const missing = (ids as string[]).filter((i) => !store.has(i));
      // Undocumented whether a 404 deletes the others; this emulator deletes nothing (the conservative case).
      if (missing.length > 0) return { status: apiError(res, 404, 'NotFound', `Indicators not found: ${missing.join(', ')}.`), body, items: ids.length };
      for (const i of ids as string[]) store.remove(i);
      res.writeHead(204).end();
      return { status: 204, items: ids.length, body };
    }
  }
}
