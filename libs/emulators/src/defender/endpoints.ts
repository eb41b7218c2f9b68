// The emulated endpoints and which one a request is for.

export type Endpoint = 'token' | 'list' | 'submit' | 'import' | 'delete' | 'batchDelete' | 'alerts';
export const API_ENDPOINTS: Endpoint[] = ['list', 'submit', 'import', 'delete', 'batchDelete', 'alerts'];

interface Classified {
  endpoint: Endpoint | 'unknown';
  /** DELETE /api/indicators/{id}. */
  id?: string;
  /** The token endpoint's tenant. */
  tenant?: string;
}

/** The endpoint of a request: the Entra token endpoint, or the indicators and alerts API (any version prefix). */
export function classify(method: string, path: string): Classified {
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
}
