// The access token's `roles` claim carries the app's granted WindowsDefenderATP application
// permissions, as Entra issues it (no claim when none is granted), and the API answers 403 Forbidden
// to an app without the permission a call needs (Microsoft Learn: the indicator APIs' permissions, common errors).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDefenderEmulator } from '../src/index.ts';
import { api, CLIENT, indicator, OTHER, token } from './defender-helpers.ts';

function claims(accessToken: string): Record<string, unknown> {
  const payload = accessToken.split('.')[1];
  assert.ok(payload, 'a JWT has three parts');
  return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
}

test('the token carries the granted roles; an app without Ti.ReadWrite.All may list with Ti.Read.All but not import', async () => {
  const mde = await startDefenderEmulator({
    tenantId: '11111111-2222-3333-4444-555555555555',
    clients: [CLIENT, { ...OTHER, roles: ['Ti.Read.All'] }],
  });
  try {
    const full = await token(mde, CLIENT);
    assert.deepEqual(claims(full).roles, ['Ti.ReadWrite.All']);
    assert.equal(claims(full).appid, CLIENT.clientId);
    const readOnly = await token(mde, OTHER);
    assert.deepEqual(claims(readOnly).roles, ['Ti.Read.All']);
    const call = api(mde, readOnly);
    assert.equal((await call('GET', '/api/indicators')).status, 200);
    const refused = await call('POST', '/api/indicators/import', { Indicators: [indicator('203.0.113.9')] });
    assert.equal(refused.status, 403);
    assert.equal((refused.json() as { error: { code: string } }).error.code, 'Forbidden');
    assert.equal(mde.indicators().length, 0);
    assert.equal((await api(mde, full)('POST', '/api/indicators/import', { Indicators: [indicator('203.0.113.9')] })).status, 200);
  } finally {
    await mde.close();
  }
});

test('an app granted no permission gets a token without a roles claim, and every call is 403', async () => {
  const mde = await startDefenderEmulator({ tenantId: '11111111-2222-3333-4444-555555555555', clients: [{ ...CLIENT, roles: [] }] });
  try {
    const t = await token(mde, CLIENT);
    assert.equal('roles' in claims(t), false);
    assert.equal((await api(mde, t)('GET', '/api/indicators')).status, 403);
  } finally {
    await mde.close();
  }
});
