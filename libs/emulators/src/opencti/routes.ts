// The platform's HTTP surface: the live streams and the GraphQL API (the /_emulator control
// endpoints are control.ts).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { readJson, sendJson } from '../http.ts';
import type { TokenCheck } from './auth.ts';
import type { GraphqlOutage } from './faults.ts';
import { executeGraphql, type Operations } from './graphql.ts';

export interface RouteParts {
  tokens: TokenCheck;
  outage: GraphqlOutage;
  /** The one operation table of POST /graphql. */
  operations: Operations;
  stream: (req: IncomingMessage, res: ServerResponse, url: URL, streamId: string) => Promise<void>;
}

export function platformRoutes(parts: RouteParts): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> {
  const graphql = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (parts.outage.status !== undefined) return sendJson(res, parts.outage.status, { error: 'Service Unavailable' });
    const body = await readJson(req);
    // OpenCTI answers an unauthenticated API call with a GraphQL error, HTTP 200.
    if (parts.tokens.check(req) !== true) {
      return sendJson(res, 200, { errors: [{ message: 'You must be logged in to do this.', extensions: { code: 'AUTH_REQUIRED' } }], data: null });
    }
    return sendJson(res, 200, executeGraphql(body, parts.operations));
  };

  return async (req, res, url) => {
    const path = url.pathname;
    if (req.method === 'POST' && path === '/graphql') return graphql(req, res);
    const match = /^\/stream\/([^/]+)$/.exec(path);
    if (req.method === 'GET' && match) return parts.stream(req, res, url, decodeURIComponent(match[1]!));
    return sendJson(res, 404, { error: 'Not found' });
  };
}
