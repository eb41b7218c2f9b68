// The client over real HTTP against the Defender emulator, with msal-node's real token flow.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startDefenderEmulator, type DefenderEmulator } from '@octi-defender/emulators';
import { createLogger, createRegistry } from '@octi-defender/platform';
import { DefenderClient, odataEq, type DefenderClientOptions } from '../src/defender/client.ts';
import { DefenderUnavailableError } from '../src/defender/errors.ts';
import { DefenderMetrics } from '../src/defender/metrics.ts';
import type { DefenderIndicator } from '../src/defender/model.ts';
import { TokenProvider } from '../src/defender/token.ts';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT_ID = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const SECRET = 'emulator-secret-value';
const APP = 'OpenCTI Defender Sync';

const ind = (i: number, over: Partial<DefenderIndicator> = {}): DefenderIndicator => ({
  indicatorValue: `93.184.216.${i}`,
  indicatorType: 'IpAddress',
  action: 'Block',
  title: `t${i}`,
  description: 'd',
  application: APP,
  severity: 'High',
  generateAlert: true,
  expirationTime: new Date(Date.now() + 86_400_000 * 10).toISOString(),
  ...over,
});

let emu: DefenderEmulator;
const logs: string[] = [];
const noSleep = { now: () => performance.now(), sleep: () => Promise.resolve() };

function client(over: Partial<DefenderClientOptions> = {}): DefenderClient {
  const tokens = new TokenProvider({
    tenantId: TENANT,
    clientId: CLIENT_ID,
    clientSecret: SECRET,
    loginUrl: 'https://login.microsoftonline.com',
    scope: 'https://api.securitycenter.microsoft.com/.default',
    tokenEndpoint: emu.tokenUrl,
  });
  const logger = createLogger({
    name: 'test',
    level: 'debug',
    secrets: [SECRET],
    destination: new Writable({ write: (c: Buffer, _e, cb) => (logs.push(c.toString()), cb()) }),
  });
  return new DefenderClient({
    baseUrl: emu.url,
    application: APP,
    tokens,
    logger,
    metrics: new DefenderMetrics(createRegistry({ prefix: 'test' })),
    retryBaseMs: 1,
    clock: noSleep,
    ...over,
  });
}

before(async () => {
  emu = await startDefenderEmulator({ tenantId: TENANT, clients: [{ clientId: CLIENT_ID, clientSecret: SECRET }], port: 0, rateLimits: false });
});
after(() => emu.close());
beforeEach(() => emu.reset());

describe('DefenderClient against the emulator', () => {
  test('token flow through msal, then import with ids', async () => {
    const c = client();
    const out = await c.import([ind(1), ind(2)]);
    assert.deepEqual(out.map((o) => o.ok), [true, true]);
    assert.equal(emu.indicators().length, 2);
    assert.equal(emu.requests('token').length, 1);
    await c.import([ind(3)]);
    assert.equal(emu.requests('token').length, 1, 'the msal cache serves the second call');
    await c.close();
  });

  test('parallel cold calls make one token request (single flight)', async () => {
    const c = client();
    await Promise.all([c.import([ind(1)]), c.import([ind(2)]), c.list()]);
    assert.equal(emu.requests('token').length, 1);
    await c.close();
  });

  test('per-item failures are classified, valid items still land', async () => {
    const c = client();
    const out = await c.import([ind(1), ind(2, { indicatorType: 'IpAddress', indicatorValue: '10.0.0.1' }), ind(3, { action: 'BlockAndRemediate' })]);
    assert.equal(out[0]?.ok, true);
    assert.equal(out[1]?.ok, false);
    assert.equal(out[2]?.ok, false);
    assert.equal(!out[1]?.ok && out[1]?.permanent, true);
    await c.close();
  });

  test('BatchDelete 404: the ids still there are deleted in a second call', async () => {
    const c = client();
    const out = await c.import([ind(1), ind(2), ind(3)]);
    const ids = out.map((o) => (o.ok ? o.id : ''));
    await c.batchDelete([ids[0] as string]);
    await c.batchDelete(ids);
    assert.equal(emu.indicators().length, 0);
    const statuses = emu.requests('batchDelete').map((r) => r.status);
    assert.deepEqual(statuses, [204, 404, 204]);
    await c.close();
  });

  test('429 is retried after Retry-After', async () => {
    const slept: number[] = [];
    const c = client({ clock: { now: () => performance.now(), sleep: (ms) => (slept.push(ms), Promise.resolve()) } });
    emu.faults({ type: 'status', status: 429, endpoints: ['import'], calls: 1 });
    const out = await c.import([ind(1)]);
    assert.equal(out[0]?.ok, true);
    assert.equal(emu.requests('import').length, 2);
    assert.equal(slept.length, 1);
    await c.close();
  });

  test('a 5xx burst opens the breaker; it closes after recovery', async () => {
    const c = client({ maxRetries: 0, breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeout: 50 } });
    const events: string[] = [];
    c.on('open', () => events.push('open')).on('halfOpen', () => events.push('halfOpen')).on('close', () => events.push('close'));
    emu.faults({ type: 'status', status: 503, endpoints: ['import'], calls: 3 });
    await assert.rejects(c.import([ind(1)]));
    await assert.rejects(c.import([ind(1)]));
    await assert.rejects(c.import([ind(1)]), DefenderUnavailableError);
    assert.equal(c.breakerState, 'open');
    await new Promise((r) => setTimeout(r, 80));
    emu.clearFaults();
    assert.equal((await c.import([ind(1)]))[0]?.ok, true);
    assert.deepEqual(events, ['open', 'halfOpen', 'close']);
    await c.close();
  });

  test('400 does not trip the breaker', async () => {
    const c = client({ maxRetries: 0, breaker: { volumeThreshold: 1, errorThresholdPercentage: 1 } });
    for (let i = 0; i < 3; i++) await assert.rejects(c.batchDelete(['not-a-number']));
    assert.equal(c.breakerState, 'closed');
    await c.close();
  });

  test('401 refreshes the token once and retries', async () => {
    const c = client();
    await c.import([ind(1)]);
    emu.expireTokens();
    assert.equal((await c.import([ind(2)]))[0]?.ok, true);
    assert.equal(emu.requests('token').length, 2);
    await c.close();
  });

  test('list pages with $top/$skip and escapes filters', async () => {
    const c = client();
    await c.import(Array.from({ length: 5 }, (_, i) => ind(i + 1)));
    await c.import([ind(9, { indicatorType: 'Url', indicatorValue: "https://evil.test/a?b=c&d='e'" })]);
    const pages: number[] = [];
    for await (const p of c.listAll({ filter: odataEq('application', APP), pageSize: 2 })) pages.push(p.length);
    assert.deepEqual(pages, [2, 2, 2]);
    const one = await c.list({ filter: odataEq('indicatorValue', "https://evil.test/a?b=c&d='e'") });
    assert.equal(one.value.length, 1);
    await c.close();
  });

  test('dry run sends nothing and logs the exact body', async () => {
    logs.length = 0;
    const c = client({ dryRun: true });
    const out = await c.import([ind(1)]);
    await c.batchDelete(['5']);
    assert.equal(out[0]?.ok, true);
    assert.equal(emu.requests().length, 0);
    assert.ok(logs.some((l) => l.includes('"Indicators"') && l.includes("93.184.216.1")));
    assert.ok(logs.some((l) => l.includes('"IndicatorIds"')));
    await c.close();
  });

  test('never logs the secret or a token', () => {
    for (const l of logs) {
      assert.ok(!l.includes(SECRET));
      assert.ok(!/Bearer [A-Za-z0-9]/.test(l));
    }
  });
});
