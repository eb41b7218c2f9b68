import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { FaultInjector } from '../src/defender/faults.ts';
import { Random } from '../src/opencti/stix.ts';

// A response that records what apiError writes.
function response(): { res: ServerResponse; sent: () => { status: number; headers: Record<string, unknown>; body: unknown } } {
  let status = 0;
  let headers: Record<string, unknown> = {};
  let text = '';
  const res = {
    writeHead(s: number, h: Record<string, unknown>) {
      status = s;
      headers = h;
      return this;
    },
    end(t: string) {
      text = t;
    },
  } as unknown as ServerResponse;
  return { res, sent: () => ({ status, headers, body: text === '' ? undefined : JSON.parse(text) as unknown }) };
}
const req = {} as IncomingMessage;

describe('FaultInjector', () => {
  it('answers a status fault on its endpoints with the documented code, for `calls` requests', async () => {
    const faults = new FaultInjector(new Random(1), () => 0);
    const id = faults.add({ type: 'status', status: 429, endpoints: ['import'], calls: 1, retryAfterSec: 3 });
    assert.deepEqual(await faults.apply('list', undefined, req, response().res), { answered: false });
    const { res, sent } = response();
    assert.deepEqual(await faults.apply('import', undefined, req, res), { answered: true, status: 429, type: 'status' });
    assert.equal(sent().status, 429);
    assert.equal(sent().headers['retry-after'], '3');
    assert.equal((sent().body as { error: { code: string } }).error.code, 'TooManyRequests');
    assert.deepEqual(await faults.apply('import', undefined, req, response().res), { answered: false });
    assert.deepEqual(faults.history().map((h) => [h.id, h.hits]), [[id, 1]]);
  });

  it('matches bodies only when asked to, and reads them only then', async () => {
    const faults = new FaultInjector(new Random(1), () => 0);
    assert.equal(faults.readsBody('import'), false);
    faults.add({ type: 'unauthorized', bodyIncludes: '1.2.3.4' });
    assert.equal(faults.readsBody('import'), true);
    assert.equal(faults.readsBody('token'), false);
    assert.equal((await faults.apply('import', '{"v":"5.6.7.8"}', req, response().res)).answered, false);
    assert.deepEqual(await faults.apply('import', '{"v":"1.2.3.4"}', req, response().res), { answered: true, status: 401, type: 'unauthorized' });
  });

  it('ends a fault after its emulated duration; clear keeps the history, reset forgets it', async () => {
    let now = 0;
    const faults = new FaultInjector(new Random(1), () => now);
    faults.add({ type: 'status', durationMs: 1000 });
    now = 1000;
    assert.equal((await faults.apply('list', undefined, req, response().res)).answered, false);
    faults.add({ type: 'status' });
    faults.clear();
    assert.equal((await faults.apply('list', undefined, req, response().res)).answered, false);
    assert.equal(faults.history().length, 2);
    faults.reset();
    assert.deepEqual(faults.history(), []);
  });

  it('fails matching import items, counting items against calls, and leaves the request alone', async () => {
    const faults = new FaultInjector(new Random(1), () => 0);
    faults.add({ type: 'item', bodyIncludes: 'bad', calls: 1, message: 'nope' });
    assert.equal((await faults.apply('import', undefined, req, response().res)).answered, false);
    const items = faults.itemFaults();
    assert.equal(items.failItem({ v: 'good' }), undefined);
    assert.equal(items.failItem({ v: 'bad' }), 'nope');
    assert.equal(items.failItem({ v: 'bad' }), undefined);
  });

  it('refuses an unknown fault type', () => {
    assert.throws(() => new FaultInjector(new Random(1), () => 0).add({ type: 'boom' as 'status' }), /unknown fault type/);
  });
});
