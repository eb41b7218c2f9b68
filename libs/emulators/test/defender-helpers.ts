import type { DefenderEmulator } from '../src/index.ts';

export const TENANT = '11111111-2222-3333-4444-555555555555';
export const CLIENT = { clientId: '45097602-1234-5678-1234-9f453233e62c', clientSecret: 's3cret', displayName: 'TestPrdApp' };
export const OTHER = { clientId: '99999999-aaaa-bbbb-cccc-dddddddddddd', clientSecret: 'other', displayName: 'OtherApp' };
export const SCOPE = 'https://api.securitycenter.microsoft.com/.default';

export async function token(mde: DefenderEmulator, client = CLIENT): Promise<string> {
  const res = await fetch(mde.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret, scope: SCOPE }),
  });
  const body = (await res.json()) as { access_token: string };
  return body.access_token;
}

export function api(mde: DefenderEmulator, accessToken: string) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; text: string; json: () => unknown; headers: Headers }> => {
    const res = await fetch(`${mde.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, text, json: () => JSON.parse(text) as unknown, headers: res.headers };
  };
}

export const indicator = (value: string, overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  indicatorValue: value,
  indicatorType: 'IpAddress',
  action: 'Block',
  title: `t ${value}`,
  description: 'd',
  ...overrides,
});
