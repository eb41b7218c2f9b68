import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TokenIssuer } from '../src/defender/auth.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const form = (over: Record<string, string> = {}): URLSearchParams =>
  new URLSearchParams({ grant_type: 'client_credentials', client_id: 'app', client_secret: 's', scope: 'https://api.securitycenter.microsoft.com/.default', ...over });
const errorOf = (body: unknown): string => (body as { error: string }).error;

describe('TokenIssuer', () => {
  const clients = [{ clientId: 'app', clientSecret: 's' }, { clientId: 'reader', clientSecret: 'r', roles: ['Ti.Read.All'] }, { clientId: 'none', clientSecret: 'n', roles: [] }];

  it('answers Entra errors for tenant, grant, client, secret and scope', () => {
    const issuer = new TokenIssuer('tenant', clients, 3599, () => T0);
    assert.equal(errorOf(issuer.issue('other', form()).body), 'invalid_request');
    assert.equal(errorOf(issuer.issue('tenant', form({ grant_type: 'password' })).body), 'unsupported_grant_type');
    assert.equal(errorOf(issuer.issue('tenant', form({ client_id: 'nobody' })).body), 'unauthorized_client');
    assert.equal(errorOf(issuer.issue('tenant', form({ client_secret: 'wrong' })).body), 'invalid_client');
    const scope = issuer.issue('tenant', form({ scope: 'https://graph.microsoft.com/.default' }));
    assert.equal(scope.status, 400);
    assert.equal(errorOf(scope.body), 'invalid_scope');
    assert.match((scope.body as { error_description: string }).error_description, /^AADSTS1002012: /);
  });

  it('issues JWT-shaped tokens with the roles claim (none when no role is granted), valid for the lifetime', () => {
    let now = T0;
    const issuer = new TokenIssuer('tenant', clients, 60, () => now);
    const answer = issuer.issue('tenant', form());
    assert.equal(answer.status, 200);
    const token = (answer.body as { access_token: string }).access_token;
    const payload = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    assert.deepEqual(payload.roles, ['Ti.ReadWrite.All']);
    const bare = (issuer.issue('tenant', form({ client_id: 'none', client_secret: 'n' })).body as { access_token: string }).access_token;
    assert.equal('roles' in (JSON.parse(Buffer.from(bare.split('.')[1]!, 'base64url').toString()) as object), false);
    assert.equal(issuer.authenticate(`Bearer ${token}`), 'app');
    assert.equal(issuer.authenticate(token), undefined);
    now = T0 + 60_000;
    assert.equal(issuer.authenticate(`Bearer ${token}`), undefined);
  });

  it('expireAll invalidates every token', () => {
    const issuer = new TokenIssuer('tenant', clients, 3599, () => T0);
    const token = (issuer.issue('tenant', form()).body as { access_token: string }).access_token;
    issuer.expireAll();
    assert.equal(issuer.authenticate(`Bearer ${token}`), undefined);
  });

  it('checks roles: list needs a read role, writes Ti.ReadWrite.All', () => {
    const issuer = new TokenIssuer('tenant', clients, 3599, () => T0);
    assert.equal(issuer.missingPermission('app', 'import'), undefined);
    assert.equal(issuer.missingPermission('reader', 'list'), undefined);
    assert.equal(issuer.missingPermission('reader', 'batchDelete'), 'Ti.ReadWrite.All');
    assert.equal(issuer.missingPermission('none', 'list'), 'Ti.ReadWrite, Ti.ReadWrite.All or Ti.Read.All');
  });
});
