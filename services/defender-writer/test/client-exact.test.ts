// The client's answers to Defender's documented behaviour (README, Defender client): Retry-After
// honoured as given, per-item failure classes, echoed values in another spelling, a token endpoint
// that fails then recovers, and the breaker on a sustained outage. Emulator over real HTTP, msal's
// real token flow, a controllable clock (no wall-clock assertion).
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startDefenderEmulator, type DefenderEmulator } from '@octi-defender/emulators';
import { createLogger, createRegistry } from '@octi-defender/platform';
import { DefenderClient, matchImportResults, type DefenderClientOptions } from '../src/defender/client.ts';
import { classifyFailure, DefenderAuthError, DefenderThrottledError, DefenderUnavailableError } from '../src/defender/errors.ts';
import { DefenderMetrics } from '../src/defender/metrics.ts';
import { DEFENDER_QUOTAS, QuotaLimiter, type Clock } from '../src/defender/quota.ts';
import { TokenProvider, type TokenProviderOptions } from '../src/defender/token.ts';

import { APP, CLIENT_ID, ind, SECRET, TENANT, emulatorTokenOptions } from './client-fixtures.ts';

/** A clock that only moves when told to, or by the sleeps it is asked for (recorded). */
function manualClock(): Clock & { advance(ms: number): void; slept: number[] } {
  let t = 0;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: (ms) => {
      slept.push(ms);
      t += ms;
      return Promise.resolve();
    },
    advance: (ms) => {
      t += ms;
    },
    slept,
  };
}

let emu: DefenderEmulator;

function tokenOptions(): TokenProviderOptions {
  return emulatorTokenOptions(emu.tokenUrl);
}

function client(over: Partial<DefenderClientOptions> = {}): DefenderClient {
  const logger = createLogger({ name: 'test', level: 'silent', secrets: [SECRET], destination: new Writable({ write: (_c, _e, cb) => cb() }) });
  return new DefenderClient({
    baseUrl: emu.url,
    application: APP,
    tokens: new TokenProvider(tokenOptions()),
    logger,
    metrics: new DefenderMetrics(createRegistry({ prefix: 'test' })),
    retryBaseMs: 1,
    clock: manualClock(),
    ...over,
  });
}

before(async () => {
  emu = await startDefenderEmulator({ tenantId: TENANT, clients: [{ clientId: CLIENT_ID, clientSecret: SECRET }], port: 0, rateLimits: false });
});
after(() => emu.close());
beforeEach(() => emu.reset());

describe('Retry-After as Defender gives it (retrying sooner earns another 429)', () => {
  test('a 600 s Retry-After is not cut: the call ends with the retry time, no call reaches the endpoint before it, then calls pass', async () => {
    const clock = manualClock();
    const c = client({ clock, retryMaxMs: 120_000 });
    emu.faults({ type: 'status', status: 429, retryAfterSec: 600, endpoints: ['import'], calls: 1 });
    await assert.rejects(c.import([ind(1)]), (e: unknown) => e instanceof DefenderThrottledError && e.retryAfterMs === 600_000);
    assert.equal(emu.requests('import').length, 1);
    assert.equal(c.throttledForMs(), 600_000);
    clock.advance(300_000);
    await assert.rejects(c.import([ind(1)]), (e: unknown) => e instanceof DefenderThrottledError && e.retryAfterMs === 300_000);
    assert.equal(emu.requests('import').length, 1, 'no call before the Retry-After has passed');
    assert.equal(c.breakerState, 'closed', 'Defender answered: not an outage');
    // The rest (within the call's patience) is waited in the quota limiter, then the call goes out.
    clock.advance(240_000);
    const at = clock.now();
    assert.equal((await c.import([ind(1)]))[0]?.ok, true);
    assert.ok(clock.now() >= at + 60_000, 'the call waited for the end of the Retry-After');
    assert.equal(emu.requests('import').length, 2);
    assert.equal(c.throttledForMs(), 0);
    await c.close();
  });

  test('a Retry-After within the call’s patience is waited in full, not less, then retried', async () => {
    const clock = manualClock();
    const c = client({ clock, retryMaxMs: 120_000 });
    emu.faults({ type: 'status', status: 429, retryAfterSec: 90, endpoints: ['import'], calls: 1 });
    const before = clock.now();
    assert.equal((await c.import([ind(1)]))[0]?.ok, true);
    assert.ok(clock.now() - before >= 90_000, `waited ${clock.now() - before} ms`);
    assert.equal(emu.requests('import').length, 2);
    await c.close();
  });
});

describe('QuotaLimiter.blockFor', () => {
  test('no call before the block ends; a shorter later block never shortens it', async () => {
    const clock = manualClock();
    const q = new QuotaLimiter(DEFENDER_QUOTAS, 1, clock);
    q.blockFor('import', 10_000);
    q.blockFor('import', 2_000);
    assert.equal(q.blockedForMs('import'), 10_000);
    assert.equal(q.blockedForMs('list'), 0, 'per endpoint');
    await q.acquire('import');
    assert.ok(clock.now() >= 10_000, `acquired at ${clock.now()}`);
    assert.equal(q.blockedForMs('import'), 0);
  });
});

describe('per-item failures: an explicit classification', () => {
  test('categories', () => {
    assert.equal(classifyFailure('Rate limit is exceeded. Try again in 5 seconds.'), 'throttled');
    assert.equal(classifyFailure('Too many requests'), 'throttled');
    assert.equal(classifyFailure('The tenant reached its limit of 15000 active indicators.'), 'cap');
    assert.equal(classifyFailure('Maximum number of indicators reached'), 'cap');
    // One indicator's field at its maximum is not the tenant's limit.
    assert.equal(classifyFailure('Indicator value exceeds the maximum length'), 'unknown');
    assert.equal(classifyFailure('Invalid IP address'), 'invalid');
    assert.equal(classifyFailure('Recieved an empty indicator value.'), 'invalid');
    assert.equal(classifyFailure('BlockAndRemediate is not supported for this indicator type'), 'invalid');
    assert.equal(classifyFailure("The 'Audit' action requires 'generateAlert' to be true."), 'invalid');
    assert.equal(classifyFailure("'educateUrl' applies only to Url indicators with the Block or Warn action."), 'invalid');
    // Free text with none of those words: neither retried forever nor dead-lettered at once.
    assert.equal(classifyFailure('Something unexpected happened'), 'unknown');
    assert.equal(classifyFailure('Internal error, please retry'), 'unknown');
    assert.equal(classifyFailure('Value exceeds what we accept'), 'unknown');
    assert.equal(classifyFailure(null), 'unknown');
  });

  test('an import carries the category of each failed item', async () => {
    const c = client();
    emu.faults({ type: 'item', bodyIncludes: '93.184.216.2', message: 'Something unexpected happened' });
    const out = await c.import([ind(1), ind(2), ind(3, { indicatorValue: '10.0.0.1' })]);
    assert.equal(out[0]?.ok, true);
    assert.deepEqual(out[1], { ok: false, permanent: false, category: 'unknown', reason: 'Something unexpected happened' });
    assert.equal(!out[2]?.ok && out[2]?.category, 'invalid');
    await c.close();
  });
});

describe('echoed values in another spelling', () => {
  test('a URL echoed without its trailing slash (Defender normalizing) is matched, not a protocol error', async () => {
    const strip = await startDefenderEmulator({ tenantId: TENANT, clients: [{ clientId: CLIENT_ID, clientSecret: SECRET }], port: 0, rateLimits: false, stripUrlTrailingSlash: true });
    const prev = emu;
    emu = strip;
    try {
      const c = client();
      const out = await c.import([ind(1), ind(2, { indicatorType: 'Url', indicatorValue: 'https://example.com/' }), ind(3, { indicatorType: 'Url', indicatorValue: 'https://example.org/a/' })]);
      assert.deepEqual(out.map((o) => o.ok), [true, true, true]);
      assert.equal(emu.requests('import').length, 1, 'one call: no retried protocol error');
      await c.close();
    } finally {
      emu = prev;
      await strip.close();
    }
  });

  test('results out of order: exact echoes first, then comparable ones', () => {
    const sent = [ind(1, { indicatorType: 'Url', indicatorValue: 'https://a.example/x/' }), ind(2, { indicatorType: 'Url', indicatorValue: 'https://a.example/X' })];
    const out = matchImportResults(sent, { value: [{ id: '2', indicator: 'https://a.example/X', isFailed: false }, { id: '1', indicator: 'https://a.example/x', isFailed: false }] });
    assert.deepEqual(out, [{ ok: true, id: '1' }, { ok: true, id: '2' }]);
  });
});

describe('token endpoint failures', () => {
  test('after a token 5xx the next request reaches Entra at once (msal’s 60 s throttling entry is cleared)', async () => {
    const tokens = new TokenProvider(tokenOptions());
    emu.faults({ type: 'status', status: 503, endpoints: ['token'], calls: 1 });
    await assert.rejects(tokens.get(), (e: unknown) => e instanceof DefenderAuthError && e.transient);
    assert.ok(await tokens.get(), 'recovered on the next attempt');
    assert.equal(emu.requests('token').length, 2, 'the second attempt went to the network');
  });

  test('bad credentials are not transient', async () => {
    const tokens = new TokenProvider({ ...tokenOptions(), clientSecret: 'wrong' });
    await assert.rejects(tokens.get(), (e: unknown) => e instanceof DefenderAuthError && !e.transient && e.code === 'invalid_client');
  });

  test('a call whose token request fails with 5xx is retried within the call and succeeds once the endpoint recovers', async () => {
    const c = client();
    emu.faults({ type: 'status', status: 503, endpoints: ['token'], calls: 2 });
    assert.equal((await c.import([ind(1)]))[0]?.ok, true);
    assert.equal(emu.requests('token').length, 3);
    await c.close();
  });
});

describe('the breaker on a sustained outage, with the default settings', () => {
  test('after a busy run of successes, a total 503 outage opens it (consecutive failures), and calls fail fast', async () => {
    const c = client();
    for (let i = 0; i < 40; i++) assert.equal((await c.import([ind(1 + (i % 200))]))[0]?.ok, true);
    emu.faults({ type: 'status', status: 503, endpoints: ['import'] });
    await assert.rejects(c.import([ind(1)]), DefenderUnavailableError);
    assert.equal(c.breakerState, 'open');
    const sent = emu.requests('import').length;
    await assert.rejects(c.import([ind(1)]), DefenderUnavailableError);
    assert.equal(emu.requests('import').length, sent, 'fails fast while open');
    await c.close();
  });

  test('opened by the run of failures, it half-opens after its reset timeout and closes on a success', async () => {
    const c = client({ breaker: { resetTimeout: 50 } });
    const events: string[] = [];
    c.on('open', () => events.push('open')).on('halfOpen', () => events.push('halfOpen')).on('close', () => events.push('close'));
    emu.faults({ type: 'status', status: 503, endpoints: ['import'], calls: 5 });
    await assert.rejects(c.import([ind(1)]), DefenderUnavailableError);
    if (c.breakerState !== 'halfOpen') await new Promise<void>((resolve) => c.on('halfOpen', resolve));
    assert.equal((await c.import([ind(1)]))[0]?.ok, true);
    assert.deepEqual(events, ['open', 'halfOpen', 'close']);
    await c.close();
  });
});

describe('quotaWaitMs / quotaReady (the writer folds while the quota would hold a call back)', () => {
  test('the wait the pacing imposes after two imports, waited on the client’s clock without taking a slot; a closed client ends the wait', async () => {
    const clock = manualClock();
    const c = client({ clock });
    assert.equal(c.quotaWaitMs('import'), 0);
    await c.import([ind(1)]);
    await c.import([ind(2)]);
    const wait = c.quotaWaitMs('import');
    assert.ok(wait > 0, 'a third import would wait for the pacing');
    const at = clock.now();
    await c.quotaReady('import');
    assert.ok(clock.now() - at >= wait, `waited ${clock.now() - at} ms of ${wait}`);
    assert.equal(c.quotaWaitMs('import'), 0);
    assert.equal(emu.requests('import').length, 2, 'no call made by waiting');
    await c.import([ind(3)]);
    await c.import([ind(4)]);
    c.abort();
    await assert.rejects(c.quotaReady('import'), /closed/);
    await c.close();
  });
});
