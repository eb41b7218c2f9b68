import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDefenderEmulator } from '../src/index.ts';
import { api, CLIENT, indicator, OTHER, TENANT, token } from './defender-helpers.ts';

type ErrorBody = { error: { code: string; message: string; target: string } };
// Emulated time is frozen (a fixed real-time source) and moves only with advanceClock, so no limit
// depends on how fast a loaded machine makes the calls.
const frozen = (): number => 1_750_000_000_000;
/** Waits for a condition (a state reached, not a duration): polls every 10 ms, fails after 10 s. */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
}

test('import is limited to 30 calls per minute: 429 TooManyRequests with Retry-After in real seconds; a minute later it passes', async () => {
  // At 120x an emulated minute is half a real second: Retry-After says 1.
  const mde = await startDefenderEmulator({ tenantId: TENANT, clients: [CLIENT, OTHER], timeScale: 120, clock: frozen });
  try {
    const call = api(mde, await token(mde));
    for (let i = 0; i < 30; i++) assert.equal((await call('POST', '/api/indicators/import', { Indicators: [indicator(`9.9.${i}.1`)] })).status, 200);
    const limited = await call('POST', '/api/indicators/import', { Indicators: [indicator('9.9.99.1')] });
    assert.equal(limited.status, 429);
    assert.equal((limited.json() as ErrorBody).error.code, 'TooManyRequests');
    assert.equal(limited.headers.get('retry-after'), '1');
    // Another application has its own budget.
    assert.equal((await api(mde, await token(mde, OTHER))('POST', '/api/indicators/import', { Indicators: [indicator('9.9.98.1')] })).status, 200);
    mde.advanceClock(59_000);
    assert.equal((await call('POST', '/api/indicators/import', { Indicators: [indicator('9.9.99.1')] })).status, 429, 'still inside the minute');
    mde.advanceClock(1_001);
    assert.equal((await call('POST', '/api/indicators/import', { Indicators: [indicator('9.9.99.1')] })).status, 200);
  } finally {
    await mde.close();
  }
});

test('single calls: 100 per minute and 1,500 per hour; BatchDelete 30 per minute', async () => {
  const mde = await startDefenderEmulator({ tenantId: TENANT, clients: [CLIENT], clock: frozen });
  try {
    const call = api(mde, await token(mde));
    for (let i = 0; i < 100; i++) assert.equal((await call('POST', '/api/indicators', indicator(`9.8.0.${i + 1}`))).status, 200);
    const minute = await call('POST', '/api/indicators', indicator('9.8.1.1'));
    assert.equal(minute.status, 429);
    assert.ok(Number(minute.headers.get('retry-after')) > 0 && Number(minute.headers.get('retry-after')) <= 60);
    // The hourly budget of GET: 15 minutes of 100 calls.
    for (let m = 0; m < 15; m++) {
      for (let i = 0; i < 100; i++) assert.equal((await call('GET', '/api/indicators?$top=1')).status, 200);
      mde.advanceClock(60_001);
    }
    const hour = await call('GET', '/api/indicators?$top=1');
    assert.equal(hour.status, 429);
    assert.ok(Number(hour.headers.get('retry-after')) > 60);
    for (let i = 0; i < 30; i++) assert.equal((await call('POST', '/api/indicators/BatchDelete', { IndicatorIds: ['424242'] })).status, 404);
    assert.equal((await call('POST', '/api/indicators/BatchDelete', { IndicatorIds: ['424242'] })).status, 429);
  } finally {
    await mde.close();
  }
});

test('rate limits can be switched off for throughput benchmarks, and on again', async () => {
  const mde = await startDefenderEmulator({ tenantId: TENANT, clients: [CLIENT], rateLimits: false, clock: frozen });
  try {
    const call = api(mde, await token(mde));
    for (let i = 0; i < 40; i++) assert.equal((await call('POST', '/api/indicators/import', { Indicators: [indicator(`9.7.0.${i + 1}`)] })).status, 200);
    const res = await fetch(`${mde.url}/_emulator/rate-limits`, { method: 'PUT', body: JSON.stringify({ enabled: true }) });
    assert.deepEqual(await res.json(), { enabled: true });
    for (let i = 0; i < 30; i++) await call('POST', '/api/indicators/import', { Indicators: [indicator('9.7.1.1')] });
    assert.equal((await call('POST', '/api/indicators/import', { Indicators: [indicator('9.7.1.1')] })).status, 429);
  } finally {
    await mde.close();
  }
});

test('faults: 5xx for a number of calls, latency, timeouts, dropped connections, a 401 storm for a window, a rate', async () => {
  const mde = await startDefenderEmulator({ tenantId: TENANT, clients: [CLIENT], rateLimits: false, seed: 3, clock: frozen });
  try {
    const call = api(mde, await token(mde));
    mde.faults({ type: 'status', status: 503, endpoints: ['import'], calls: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await call('POST', '/api/indicators/import', { Indicators: [indicator('9.6.0.1')] })).status);
    assert.deepEqual(statuses, [503, 503, 200]);

    mde.faults({ type: 'latency', latencyMs: 150, endpoints: ['list'], calls: 1 });
    const started = Date.now();
    assert.equal((await call('GET', '/api/indicators')).status, 200);
    assert.ok(Date.now() - started >= 140);

    mde.faults({ type: 'timeout', endpoints: ['submit'], calls: 1 });
    await assert.rejects(fetch(`${mde.url}/api/indicators`, { method: 'POST', signal: AbortSignal.timeout(200) }), /TimeoutError|aborted/);

    mde.faults({ type: 'drop', endpoints: ['delete'], calls: 1 });
    await assert.rejects(call('DELETE', '/api/indicators/1'));

    mde.faults({ type: 'unauthorized', durationMs: 300 });
    const storm = await call('GET', '/api/indicators');
    assert.equal(storm.status, 401);
    assert.equal((storm.json() as ErrorBody).error.code, 'Unauthorized');
    assert.equal((await call('GET', '/api/indicators')).status, 401, 'the storm lasts its window');
    mde.advanceClock(300);
    assert.equal((await call('GET', '/api/indicators')).status, 200);

    mde.faults({ type: 'status', status: 500, rate: 0.5, endpoints: ['list'] });
    let failures = 0;
    for (let i = 0; i < 100; i++) if ((await call('GET', '/api/indicators')).status === 500) failures += 1;
    assert.ok(failures > 20 && failures < 80, `${failures} failures`);
    mde.clearFaults();
    assert.equal((await call('GET', '/api/indicators')).status, 200);
  } finally {
    await mde.close();
  }
});

test('fault hits: each fault counts the requests it answered, also after it is cleared or used up; a fault that matched nothing shows 0', async () => {
  const mde = await startDefenderEmulator({ tenantId: TENANT, clients: [CLIENT], rateLimits: false });
  try {
    const call = api(mde, await token(mde));
    const five = mde.faults({ type: 'status', status: 503, endpoints: ['import'], calls: 2 });
    const slow = mde.faults({ type: 'latency', latencyMs: 10, endpoints: ['list'] });
    const idle = mde.faults({ type: 'drop', endpoints: ['batchDelete'] });
    for (let i = 0; i < 3; i++) await call('POST', '/api/indicators/import', { Indicators: [indicator('9.4.0.1')] });
    await call('GET', '/api/indicators');
    mde.clearFaults();
    await call('GET', '/api/indicators');
    const hits = Object.fromEntries(mde.faultHits().map((h) => [h.id, h.hits]));
    assert.deepEqual(hits, { [five]: 2, [slow]: 1, [idle]: 0 });
    const overHttp = (await (await fetch(`${mde.url}/_emulator/faults`)).json()) as { id: string; spec: { type: string }; hits: number }[];
    assert.deepEqual(overHttp.map((h) => [h.spec.type, h.hits]), [['status', 2], ['latency', 1], ['drop', 0]]);
    // A request held by a latency fault is pending until answered.
    mde.faults({ type: 'latency', latencyMs: 1000, endpoints: ['list'], calls: 1 });
    const held = call('GET', '/api/indicators');
    await until(() => mde.pendingRequests() === 1, 'the held request counts as pending');
    await held;
    await until(() => mde.pendingRequests() === 0, 'an answered request is no longer pending');
    mde.reset();
    assert.deepEqual(mde.faultHits(), []);
  } finally {
    await mde.close();
  }
});

test('admin view: stored indicators, every request received, per-endpoint counters, over HTTP too', async () => {
  const mde = await startDefenderEmulator({ tenantId: TENANT, clients: [CLIENT], rateLimits: false });
  try {
    const call = api(mde, await token(mde));
    await call('POST', '/api/indicators/import', { Indicators: [indicator('9.5.0.1'), indicator('9.5.0.2')] });
    await call('GET', '/api/indicators');
    const imports = mde.requests('import');
    assert.equal(imports.length, 1);
    assert.equal(imports[0]!.clientId, CLIENT.clientId);
    assert.equal(imports[0]!.items, 2);
    assert.equal(imports[0]!.status, 200);
    const tokenRequest = mde.requests('token')[0]!;
    assert.equal((tokenRequest.body as Record<string, string>).client_secret, '[redacted]');
    const stats = mde.stats();
    assert.deepEqual(stats.import, { calls: 1, items: 2, statuses: { 200: 1 } });
    assert.equal(stats.list.calls, 1);

    const seeded = await fetch(`${mde.url}/_emulator/indicators`, { method: 'POST', body: JSON.stringify({ clientId: OTHER.clientId, indicators: [indicator('9.5.0.3')] }) });
    assert.equal(((await seeded.json()) as { createdBy: string }[])[0]!.createdBy, OTHER.clientId);
    const listed = (await (await fetch(`${mde.url}/_emulator/indicators`)).json()) as unknown[];
    assert.equal(listed.length, 3);
    const requests = (await (await fetch(`${mde.url}/_emulator/requests?endpoint=import`)).json()) as unknown[];
    assert.equal(requests.length, 1);
    assert.equal(((await (await fetch(`${mde.url}/_emulator/stats`)).json()) as { import: { items: number } }).import.items, 2);
    await fetch(`${mde.url}/_emulator/faults`, { method: 'POST', body: JSON.stringify({ type: 'status', status: 500, calls: 1 }) });
    assert.equal((await call('GET', '/api/indicators')).status, 500);
    await fetch(`${mde.url}/_emulator/tokens/expire`, { method: 'POST' });
    assert.equal((await call('GET', '/api/indicators')).status, 401);
    const clock = (await (await fetch(`${mde.url}/_emulator/clock`, { method: 'POST', body: JSON.stringify({ advanceMs: 3_600_000 }) })).json()) as { now: string };
    assert.ok(Date.parse(clock.now) > Date.now() + 3_500_000);
    await fetch(`${mde.url}/_emulator/reset`, { method: 'POST' });
    assert.equal(mde.indicators().length, 0);
    assert.equal(mde.requests().length, 0);
  } finally {
    await mde.close();
  }
});

test('faults: a status with Defender’s code, message and Retry-After, only for requests whose body carries a text', async () => {
  const mde = await startDefenderEmulator({ tenantId: TENANT, clients: [CLIENT], rateLimits: false });
  try {
    const call = api(mde, await token(mde));
    mde.faults({ type: 'status', status: 400, message: 'Malformed indicator.', endpoints: ['import'], bodyIncludes: '"9.5.0.2"' });
    const refused = await call('POST', '/api/indicators/import', { Indicators: [indicator('9.5.0.1'), indicator('9.5.0.2')] });
    assert.equal(refused.status, 400);
    assert.deepEqual({ ...(refused.json() as ErrorBody).error, target: '' }, { code: 'BadRequest', message: 'Malformed indicator.', target: '' });
    assert.equal(mde.indicators().length, 0, 'the whole call is refused');
    // Calls without it pass, and their body is still read by the API.
    const ok = await call('POST', '/api/indicators/import', { Indicators: [indicator('9.5.0.1')] });
    assert.equal(ok.status, 200);
    assert.equal(mde.indicators().length, 1);
    mde.clearFaults();

    mde.faults({ type: 'status', status: 429, retryAfterSec: 120, endpoints: ['list'], calls: 1 });
    const limited = await call('GET', '/api/indicators');
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '120');
    assert.equal((limited.json() as ErrorBody).error.code, 'TooManyRequests');
    assert.equal((await call('GET', '/api/indicators')).status, 200);
  } finally {
    await mde.close();
  }
});
