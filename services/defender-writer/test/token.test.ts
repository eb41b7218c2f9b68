// A credential Entra refuses is reported with the variable to fix (codes as Entra answers them; the
// emulator answers the same).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startDefenderEmulator, type DefenderEmulator } from '@octi-defender/emulators';
import { TokenProvider } from '../src/defender/token.ts';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT_ID = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
let emu: DefenderEmulator;
before(async () => {
  emu = await startDefenderEmulator({ tenantId: TENANT, clients: [{ clientId: CLIENT_ID, clientSecret: 'the-right-secret' }], port: 0, rateLimits: false });
});
after(() => emu.close());

const tokens = (over: { clientId?: string; clientSecret?: string }): TokenProvider =>
  new TokenProvider({
    tenantId: TENANT,
    clientId: over.clientId ?? CLIENT_ID,
    clientSecret: over.clientSecret ?? 'the-right-secret',
    loginUrl: 'https://login.microsoftonline.com',
    scope: 'https://api.securitycenter.microsoft.com/.default',
    tokenEndpoint: emu.tokenUrl,
  });

test('a refused client secret names MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET, without the secret', async () => {
  await assert.rejects(tokens({ clientSecret: 'a-wrong-secret' }).get(), (err: Error) => {
    assert.match(err.message, /^Entra token request failed: invalid_client \(Entra refused the client secret: check MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET/);
    assert.doesNotMatch(err.message, /a-wrong-secret/);
    return true;
  });
});

test('an unknown application names MICROSOFT_DEFENDER_INTEL_CLIENT_ID', async () => {
  await assert.rejects(tokens({ clientId: '99999999-bbbb-cccc-dddd-eeeeeeeeeeee' }).get(), /unauthorized_client \(.*check MICROSOFT_DEFENDER_INTEL_CLIENT_ID/);
});

test('the right credentials get a token', async () => {
  assert.ok((await tokens({}).get()).length > 20);
});
