import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify } from '../src/defender/endpoints.ts';
import { RequestLog } from '../src/defender/requests.ts';
import { EmulatedClock } from '../src/defender/clock.ts';

describe('classify', () => {
  it('names the endpoint of a request', () => {
    assert.deepEqual(classify('POST', '/t%201/oauth2/v2.0/token'), { endpoint: 'token', tenant: 't 1' });
    assert.deepEqual(classify('GET', '/api/indicators'), { endpoint: 'list' });
    assert.deepEqual(classify('POST', '/api/v1.0/indicators/'), { endpoint: 'submit' });
    assert.deepEqual(classify('POST', '/api/indicators/Import'), { endpoint: 'import' });
    assert.deepEqual(classify('POST', '/api/indicators/batchdelete'), { endpoint: 'batchDelete' });
    assert.deepEqual(classify('DELETE', '/api/indicators/42'), { endpoint: 'delete', id: '42' });
    assert.deepEqual(classify('GET', '/api/alerts'), { endpoint: 'alerts' });
    assert.deepEqual(classify('PUT', '/api/indicators'), { endpoint: 'unknown' });
    assert.deepEqual(classify('GET', '/api/machines'), { endpoint: 'unknown' });
  });
});

describe('RequestLog', () => {
  it('keeps the last requests and counts every one', () => {
    const log = new RequestLog(2, () => 0);
    for (const status of [200, 429, 200]) log.record({ method: 'POST', path: '/api/indicators/import', endpoint: 'import', clientId: 'a', status, items: 2 });
    log.record({ method: 'GET', path: '/x', endpoint: 'unknown', clientId: undefined, status: 404 });
    assert.deepEqual(log.list().map((r) => r.seq), [3, 4]);
    assert.deepEqual(log.list('import').map((r) => r.status), [200]);
    assert.deepEqual(log.stats().import, { calls: 3, items: 6, statuses: { 200: 2, 429: 1 } });
    log.clear();
    assert.deepEqual(log.list(), []);
    assert.equal(log.stats().import.calls, 0);
  });
});

describe('EmulatedClock', () => {
  it('runs timeScale times faster from its start and moves with advance', () => {
    let real = 1000;
    const clock = new EmulatedClock({ timeScale: 60, startTime: '2026-01-01T00:00:00Z', clock: () => real });
    const start = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(clock.now(), start);
    real += 1000;
    assert.equal(clock.now(), start + 60_000);
    clock.advance(5);
    assert.equal(clock.now(), start + 60_005);
    assert.throws(() => new EmulatedClock({ timeScale: 0 }), /timeScale/);
  });
});
