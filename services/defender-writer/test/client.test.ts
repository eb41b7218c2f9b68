// The client over real HTTP against the Defender emulator, with msal-node's real token flow.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startDefenderEmulator, type DefenderEmulator } from '@octi-defender/emulators';
import { createLogger, createRegistry } from '@octi-defender/platform';
import { DefenderClient, odataEq, type DefenderClientOptions } from '../src/defender/client.ts';
import { DefenderCallCancelledError, DefenderClientClosedError, DefenderHttpError, DefenderUnavailableError, isBreakerNeutral, isRetryable } from '../src/defender/errors.ts';
import { DefenderMetrics } from '../src/defender/metrics.ts';
import { systemClock } from '../src/defender/quota.ts';
import { TokenProvider } from '../src/defender/token.ts';
import { listForeignSince, listTenant } from '../src/defender/foreign.ts';

import { APP, CLIENT_ID, ind, SECRET, TENANT } from './client-fixtures.ts';

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
    for (let i = 0; i < 3; i++) assert.equal((await c.batchDelete(['not-a-number'])).rejected.length, 1);
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
    assert.ok(logs.some((l) => l.includes('"Indicators"') && l.includes('93.184.216.1')));
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

/** Polls until `cond` holds (at most `ms`). */
async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const counter = async (m: DefenderMetrics, endpoint: string): Promise<number> => (await m.bisections.get()).values.find((v) => v.labels.endpoint === endpoint)?.value ?? 0;

describe('whole-call refusals are bisected', () => {
  test('import: one item making the whole call a 400 is a permanent outcome with Defender’s message, the others land, in 1 + 2·log2(n) calls', async () => {
    const metrics = new DefenderMetrics(createRegistry({ prefix: 'test' }));
    const c = client({ metrics });
    const batch = Array.from({ length: 8 }, (_, i) => ind(i + 1));
    // Defender refuses every import whose body carries this item, as it does a malformed one.
    emu.faults({ type: 'status', status: 400, code: 'InvalidRequestBody', message: "Indicator '93.184.216.6' could not be read.", endpoints: ['import'], bodyIncludes: '"93.184.216.6"' });
    const out = await c.import(batch);
    assert.deepEqual(out[5], { ok: false, permanent: true, category: 'invalid', reason: "400 InvalidRequestBody: Indicator '93.184.216.6' could not be read." });
    assert.ok(out.every((o, i) => i === 5 || o.ok), JSON.stringify(out));
    assert.deepEqual(emu.indicators().map((x) => x.indicatorValue).sort(), batch.filter((_, i) => i !== 5).map((x) => x.indicatorValue).sort());
    // 8 → 4 + 4 → 2 + 2 → 1 + 1: one call for the batch, two per level.
    assert.equal(emu.requests('import').length, 1 + 2 * Math.log2(8));
    assert.equal(await counter(metrics, 'import'), 3);
    assert.ok(logs.some((l) => l.includes('"level":"warn"') && l.includes('splitting the batch') && l.includes('"code":"InvalidRequestBody"')));
    await c.close();
  });

  test('import: a 413 is bisected too; two refused items in different halves', async () => {
    const c = client();
    const batch = Array.from({ length: 4 }, (_, i) => ind(i + 1));
    emu.faults({ type: 'status', status: 413, code: 'RequestEntityTooLarge', message: 'too large', endpoints: ['import'], bodyIncludes: '"93.184.216.1"' });
    emu.faults({ type: 'status', status: 400, message: 'bad', endpoints: ['import'], bodyIncludes: '"93.184.216.4"' });
    const out = await c.import(batch);
    assert.deepEqual(out, [
      { ok: false, permanent: true, category: 'invalid', reason: '413 RequestEntityTooLarge: too large' },
      out[1],
      out[2],
      { ok: false, permanent: true, category: 'invalid', reason: '400 BadRequest: bad' },
    ]);
    assert.ok(out[1]?.ok && out[2]?.ok);
    assert.equal(emu.indicators().length, 2);
    assert.equal(emu.requests('import').length, 7);
    await c.close();
  });

  test('import: 401/403 are not bisected, they fail the call as before', async () => {
    const c = client();
    emu.faults({ type: 'status', status: 403, endpoints: ['import'] });
    await assert.rejects(c.import([ind(1), ind(2)]), (e: unknown) => e instanceof DefenderHttpError && e.statusCode === 403);
    assert.equal(emu.requests('import').length, 1);
    await c.close();
  });

  test('batchDelete: an id refused alone is returned in rejected, the other ids are deleted', async () => {
    const metrics = new DefenderMetrics(createRegistry({ prefix: 'test' }));
    const c = client({ metrics });
    const ids = (await c.import([ind(1), ind(2), ind(3)])).map((o) => (o.ok ? o.id : ''));
    const result = await c.batchDelete([ids[0] as string, 'x', ids[1] as string, ids[2] as string]);
    assert.deepEqual(result, { rejected: [{ id: 'x', reason: '400 InvalidRequestBody: IndicatorIds must be indicator ids given as strings.' }] });
    assert.equal(emu.indicators().length, 0);
    assert.deepEqual(emu.requests('batchDelete').map((r) => r.status), [400, 400, 204, 400, 204]);
    assert.equal(await counter(metrics, 'batchDelete'), 2);
    assert.deepEqual(await c.batchDelete([]), { rejected: [] });
    await c.close();
  });

  test('batchDelete: the 404 recovery still works inside a half', async () => {
    const c = client();
    const ids = (await c.import([ind(1), ind(2), ind(3)])).map((o) => (o.ok ? o.id : ''));
    await c.batchDelete([ids[2] as string]);
    // ['x', id0] → 400 → ['x'] rejected, [id0] deleted; [id1, id2] → 404 → re-list → [id1] deleted.
    const result = await c.batchDelete(['x', ids[0] as string, ids[1] as string, ids[2] as string]);
    assert.deepEqual(result.rejected.map((r) => r.id), ['x']);
    assert.equal(emu.indicators().length, 0);
    await c.close();
  });
});

describe('abort() cancels every wait', () => {
  test('the closed error is neither retryable nor a breaker failure', () => {
    const e = new DefenderClientClosedError();
    assert.equal(e.message, 'Defender client closed');
    assert.equal(isRetryable(e), false);
    assert.equal(isBreakerNeutral(e), true);
  });

  test('during a long Retry-After (real clock): rejects promptly, sends nothing more, leaves no timer', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    logs.length = 0;
    const c = client({ clock: systemClock, retryMaxMs: 120_000 });
    emu.faults({ type: 'status', status: 429, retryAfterSec: 120, endpoints: ['import'], calls: 1 });
    const pending = c.import([ind(1)]);
    await until('the retry sleep', () => logs.some((l) => l.includes('"delayMs":120000')));
    const t0 = performance.now();
    c.abort();
    await assert.rejects(pending, DefenderClientClosedError);
    assert.ok(performance.now() - t0 < 5_000, 'returned promptly instead of after 120 s');
    await assert.rejects(c.import([ind(2)]), DefenderClientClosedError);
    await assert.rejects(c.batchDelete(['1']), DefenderClientClosedError);
    await assert.rejects(c.list(), DefenderClientClosedError);
    assert.equal(emu.requests('import').length, 1);
    await c.close();
    assert.ok(timers() <= before, process.getActiveResourcesInfo().join(','));
    assert.ok(!logs.some((l) => /"level":"(error|fatal)"/.test(l)), 'no error-level log');
  });

  test('during a quota wait (real clock): rejects promptly', async () => {
    const c = client({ clock: systemClock, quotas: { import: [{ limit: 1, windowMs: 60_000 }], batchDelete: [], list: [] } });
    await c.import([ind(1)]);
    const waiting = c.import([ind(2)]);
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    const rejected = assert.rejects(waiting, DefenderClientClosedError);
    await c.close();
    await rejected;
    assert.ok(performance.now() - t0 < 5_000);
    assert.equal(emu.requests('import').length, 1);
  });

  test('during an HTTP exchange Defender never answers: rejects promptly, the breaker does not count it', async () => {
    const c = client({ maxRetries: 0, breaker: { volumeThreshold: 1, errorThresholdPercentage: 1 } });
    emu.faults({ type: 'timeout', endpoints: ['import'], calls: 1 });
    const hanging = c.import([ind(1)]);
    await until('the request', () => emu.requests('import').length === 1);
    c.abort();
    await assert.rejects(hanging, DefenderClientClosedError);
    assert.equal(c.breakerState, 'closed');
    assert.equal(c.closed, true);
    await c.close();
  });
});

describe('per-call cancellation (CallOptions)', () => {
  test('the guard runs before each HTTP request, also the retry after a Retry-After: a refusal stops the call there', async () => {
    const c = client();
    emu.faults({ type: 'status', status: 429, retryAfterSec: 1, endpoints: ['import'], calls: 1 });
    let checks = 0;
    const guard = (): void => {
      if (++checks > 1) throw new Error('lease ended');
    };
    const err = await c.import([ind(1)], { guard }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof DefenderCallCancelledError, String(err));
    assert.match(err.message, /lease ended/);
    assert.equal(isRetryable(err), false);
    assert.equal(isBreakerNeutral(err), true);
    assert.equal(emu.requests('import').length, 1, 'the retry was not sent');
    assert.equal(c.breakerState, 'closed');
    // The client itself is not closed: other calls go on.
    assert.equal((await c.import([ind(2)]))[0]?.ok, true);
    await c.close();
  });

  test('aborting the signal cancels that call in flight only', async () => {
    const c = client({ maxRetries: 0, breaker: { volumeThreshold: 1, errorThresholdPercentage: 1 } });
    emu.faults({ type: 'timeout', endpoints: ['import'], calls: 1 });
    const ctl = new AbortController();
    const hanging = c.import([ind(1)], { signal: ctl.signal });
    await until('the request', () => emu.requests('import').length === 1);
    ctl.abort(new Error('revoked'));
    await assert.rejects(hanging, DefenderCallCancelledError);
    assert.equal(c.breakerState, 'closed');
    assert.equal(c.closed, false);
    assert.equal((await c.import([ind(2)]))[0]?.ok, true);
    await c.close();
  });
});

describe('looks at what other creators added (listForeignSince) against the emulator', () => {
  const lookFilter = (): string => new URLSearchParams(emu.requests('list').at(-1)?.query ?? '').get('$filter') ?? '';
  const analyst = { clientId: 'analyst@contoso.example', displayName: 'Analyst' };

  test('finds an indicator added after the listing; ours and earlier ones stay out of the answer; the cursor moves with time', async () => {
    const c = client();
    await c.import([ind(1)]);
    emu.seedIndicators([ind(2)], analyst);
    const t0 = 1_000_000;
    const { foreign } = await listTenant(c, CLIENT_ID, {}, t0);
    assert.equal(foreign.listedIndicators, 1);
    assert.equal(foreign.holds('IpAddress:93.184.216.3'), false);
    emu.seedIndicators([ind(3)], analyst);
    assert.equal(await listForeignSince(c, CLIENT_ID, foreign, t0 + 1000, { byCreator: true }), 1);
    assert.ok(foreign.holds('IpAddress:93.184.216.3'));
    assert.equal(foreign.listedIndicators, 1, 'a look never counts towards the room');
    assert.match(lookFilter(), new RegExp(`^createdBy ne '${CLIENT_ID}' and creationTimeDateTimeUtc ge \\d{4}-`));
    // Ten minutes later on this clock: the look starts past every indicator created so far.
    await listForeignSince(c, CLIENT_ID, foreign, t0 + 600_000, { byCreator: true });
    const since = Date.parse(lookFilter().split(' ge ')[1]!);
    const newest = Math.max(...emu.indicators().map((i) => Date.parse(i.creationTimeDateTimeUtc)));
    assert.ok(since > newest, `the look starts at ${new Date(since).toISOString()}, after the newest creation ${new Date(newest).toISOString()}`);
  });

  test('without the creator filter (Defender refused `ne`): by time only, our own records dropped here', async () => {
    const c = client();
    const { foreign } = await listTenant(c, CLIENT_ID, {}, 0);
    await c.import([ind(4)]);
    emu.seedIndicators([ind(5)], analyst);
    assert.equal(await listForeignSince(c, CLIENT_ID, foreign, 1, { byCreator: false }), 1);
    assert.ok(foreign.holds('IpAddress:93.184.216.5'));
    assert.equal(foreign.holds('IpAddress:93.184.216.4'), false);
    assert.doesNotMatch(lookFilter(), /createdBy/);
  });
});
