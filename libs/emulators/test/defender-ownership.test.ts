// What the writer's exactness relies on, pinned to Defender's documented behaviour (README,
// "Ownership and updates"): upsert across creators on value + type + action, the creator fields on
// every indicator, an update in place keeping its id, slow answers on every endpoint, per-item
// import failures and URL values normalized on demand.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startDefenderEmulator } from '../src/index.ts';
import type { DefenderEmulator, Endpoint, Indicator } from '../src/index.ts';
import { api, CLIENT, indicator, OTHER, TENANT, token } from './defender-helpers.ts';

type ImportResult = { value: { id: string | null; indicator: string | null; isFailed: boolean; failureReason: string | null }[] };

describe('Defender emulator: ownership and updates', () => {
  let mde: DefenderEmulator;
  let call: ReturnType<typeof api>;
  before(async () => {
    mde = await startDefenderEmulator({ tenantId: TENANT, clients: [CLIENT, OTHER], rateLimits: false });
  });
  after(() => mde.close());
  beforeEach(async () => {
    mde.reset();
    call = api(mde, await token(mde));
  });
  const importOne = async (body: Record<string, unknown>) => ((await call('POST', '/api/indicators/import', { Indicators: [body] })).json() as ImportResult).value[0]!;

  test('an import matching another creator’s value + type + action updates theirs in place and answers with their id (microsoft-365-docs#4927)', async () => {
    const [analyst] = mde.seedIndicators([indicator('93.184.216.34', { title: 'analyst block', expirationTime: null })], { clientId: OTHER.clientId, displayName: 'Analyst' });
    const r = await importOne(indicator('93.184.216.34', { title: 'from OpenCTI', expirationTime: '2030-01-01T00:00:00Z' }));
    assert.equal(r.id, analyst!.id, 'the other creator’s id comes back as if it were ours');
    const [after] = mde.indicators();
    assert.equal(mde.indicators().length, 1);
    assert.equal(after!.title, 'from OpenCTI', 'their title was rewritten');
    assert.equal(after!.expirationTime, '2030-01-01T00:00:00Z', 'their expiry was rewritten');
    assert.equal(after!.createdBy, OTHER.clientId, 'the creator is set on create only');
  });

  test('another action on the same value is a second indicator (they coexist)', async () => {
    mde.seedIndicators([indicator('93.184.216.34', { action: 'Allowed' })], { clientId: OTHER.clientId });
    const r = await importOne(indicator('93.184.216.34'));
    assert.equal(r.isFailed, false);
    assert.deepEqual(mde.indicators().map((i) => `${i.action}:${i.createdBy}`).sort(), [`Allowed:${OTHER.clientId}`, `Block:${CLIENT.clientId}`]);
  });

  test('every indicator carries createdBy (the client id), createdBySource and createdByDisplayName', async () => {
    await importOne(indicator('93.184.216.1'));
    mde.seedIndicators([indicator('93.184.216.2')], { clientId: OTHER.clientId, displayName: 'OtherApp' });
    const listed = ((await call('GET', '/api/indicators')).json() as { value: Indicator[] }).value;
    assert.equal(listed.length, 2);
    for (const i of listed) {
      assert.ok(typeof i.createdBy === 'string' && i.createdBy !== '');
      assert.ok(typeof i.createdBySource === 'string' && i.createdBySource !== '');
      assert.ok(typeof i.createdByDisplayName === 'string' && i.createdByDisplayName !== '');
    }
    assert.deepEqual(listed.map((i) => i.createdBy).sort(), [CLIENT.clientId, OTHER.clientId].sort());
  });

  test('a change of fields outside value + type + action (rbacGroupNames, title, severity) is an update in place: the same id', async () => {
    const first = await importOne(indicator('93.184.216.34', { rbacGroupNames: ['A'], severity: 'High' }));
    for (const change of [{ rbacGroupNames: ['B'] }, { title: 'renamed' }, { severity: 'Low' }]) {
      const again = await importOne(indicator('93.184.216.34', { rbacGroupNames: ['A'], severity: 'High', ...change }));
      assert.equal(again.id, first.id, JSON.stringify(change));
    }
    assert.equal(mde.indicators().length, 1);
  });

  test('a latency fault slows every endpoint, the token endpoint included', async () => {
    const endpoints: Record<Exclude<Endpoint, 'token'>, { method: string; path: string; body?: unknown }> = {
      list: { method: 'GET', path: '/api/indicators' },
      submit: { method: 'POST', path: '/api/indicators', body: indicator('93.184.216.9') },
      import: { method: 'POST', path: '/api/indicators/import', body: { Indicators: [indicator('93.184.216.9')] } },
      delete: { method: 'DELETE', path: '/api/indicators/1' },
      batchDelete: { method: 'POST', path: '/api/indicators/BatchDelete', body: { IndicatorIds: ['1'] } },
      alerts: { method: 'GET', path: '/api/alerts' },
    };
    const tok = await token(mde);
    // A fault far longer than the client's patience: the request is still unanswered when the client gives up.
    const slow = (init: () => Promise<Response>) => assert.rejects(init(), (e: Error) => e.name === 'TimeoutError');
    for (const [endpoint, r] of Object.entries(endpoints)) {
      mde.faults({ type: 'latency', latencyMs: 30_000, endpoints: [endpoint as Endpoint], calls: 1 });
      await slow(() =>
        fetch(`${mde.url}${r.path}`, {
          method: r.method,
          headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' },
          body: r.body === undefined ? undefined : JSON.stringify(r.body),
          signal: AbortSignal.timeout(300),
        })
      );
    }
    mde.faults({ type: 'latency', latencyMs: 30_000, endpoints: ['token'], calls: 1 });
    await slow(() =>
      fetch(mde.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, scope: 'https://api.securitycenter.microsoft.com/.default' }),
        signal: AbortSignal.timeout(300),
      })
    );
    mde.clearFaults();
    assert.ok(await token(mde), 'answers normally once the faults are used up');
  });

  test('an item fault fails the matching items of an import (HTTP 200, isFailed with the text), the others land', async () => {
    mde.faults({ type: 'item', bodyIncludes: '93.184.216.2', message: 'Something unexpected happened', calls: 1 });
    const res = (await call('POST', '/api/indicators/import', { Indicators: [indicator('93.184.216.1'), indicator('93.184.216.2')] })).json() as ImportResult;
    assert.deepEqual(res.value.map((v) => [v.indicator, v.isFailed, v.failureReason]), [
      ['93.184.216.1', false, null],
      ['93.184.216.2', true, 'Something unexpected happened'],
    ]);
    const again = (await call('POST', '/api/indicators/import', { Indicators: [indicator('93.184.216.2')] })).json() as ImportResult;
    assert.equal(again.value[0]?.isFailed, false, 'calls: 1 used up');
  });
});

describe('Defender emulator: stripUrlTrailingSlash', () => {
  test('Url values are stored and echoed without their trailing slashes', async () => {
    const mde = await startDefenderEmulator({ tenantId: TENANT, clients: [CLIENT], rateLimits: false, stripUrlTrailingSlash: true });
    try {
      const call = api(mde, await token(mde));
      const res = (await call('POST', '/api/indicators/import', { Indicators: [indicator('https://example.com/', { indicatorType: 'Url' })] })).json() as ImportResult;
      assert.equal(res.value[0]?.indicator, 'https://example.com');
      assert.equal(mde.indicators()[0]?.indicatorValue, 'https://example.com');
      const again = (await call('POST', '/api/indicators/import', { Indicators: [indicator('https://example.com', { indicatorType: 'Url' })] })).json() as ImportResult;
      assert.equal(again.value[0]?.id, res.value[0]?.id, 'the same indicator');
    } finally {
      await mde.close();
    }
  });
});
