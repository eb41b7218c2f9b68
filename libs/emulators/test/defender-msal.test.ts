// The emulator's token endpoint as @azure/msal-node's client-credentials flow uses it (research/defender-api.md §6).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfidentialClientApplication } from '@azure/msal-node';
import { startDefenderEmulator } from '../src/index.ts';
import { CLIENT, SCOPE, TENANT } from './defender-helpers.ts';

test('msal-node acquires a token from the emulator, caches it, and its token is accepted by the API', async () => {
  const mde = await startDefenderEmulator({ tenantId: TENANT, clients: [CLIENT] });
  try {
    const cca = new ConfidentialClientApplication({
      auth: { clientId: CLIENT.clientId, clientSecret: CLIENT.clientSecret, authority: `https://login.microsoftonline.com/${TENANT}`, authorityMetadata: mde.authorityMetadata() },
    });
    const result = await cca.acquireTokenByClientCredential({ scopes: [SCOPE] });
    assert.ok(result?.accessToken);
    assert.equal(result.tokenType, 'Bearer');
    const again = await cca.acquireTokenByClientCredential({ scopes: [SCOPE] });
    assert.equal(again?.fromCache, true);
    const tokenRequests = mde.requests('token');
    assert.equal(tokenRequests.length, 1);
    const body = tokenRequests[0]!.body as Record<string, string>;
    assert.equal(body.grant_type, 'client_credentials');
    assert.equal(body.client_id, CLIENT.clientId);
    assert.equal(body.scope, SCOPE);
    assert.equal(body.client_secret, '[redacted]');
    const res = await fetch(`${mde.url}/api/indicators`, { headers: { authorization: `Bearer ${result.accessToken}` } });
    assert.equal(res.status, 200);

    const wrong = new ConfidentialClientApplication({
      auth: { clientId: CLIENT.clientId, clientSecret: 'wrong', authority: `https://login.microsoftonline.com/${TENANT}`, authorityMetadata: mde.authorityMetadata() },
    });
    await assert.rejects(wrong.acquireTokenByClientCredential({ scopes: [SCOPE] }), (err: { errorCode?: string; errorMessage?: string }) => {
      assert.equal(err.errorCode, 'invalid_client');
      assert.match(err.errorMessage ?? '', /AADSTS7000215/);
      return true;
    });
  } finally {
    await mde.close();
  }
});
