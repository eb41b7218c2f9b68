import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { QuotaLimiter, type Clock } from '../src/defender/quota.ts';

function fakeClock(): Clock & { t: number } {
  const c = { t: 0, now: () => c.t, sleep: (ms: number) => ((c.t += ms), Promise.resolve()) };
  return c;
}

describe('QuotaLimiter', () => {
  test('a full bucket, then one call per refill interval', async () => {
    const clock = fakeClock();
    const q = new QuotaLimiter({ import: [{ limit: 30, windowMs: 60_000 }], batchDelete: [], list: [] }, 1, clock);
    for (let i = 0; i < 30; i++) assert.equal(await q.acquire('import'), 0);
    assert.equal(await q.acquire('import'), 2000);
  });
  test('the share scales the budget and can change at runtime', async () => {
    const clock = fakeClock();
    const q = new QuotaLimiter({ import: [{ limit: 30, windowMs: 60_000 }], batchDelete: [], list: [] }, 0.5, clock);
    for (let i = 0; i < 15; i++) await q.acquire('import');
    assert.equal(await q.acquire('import'), 4000);
    q.setShare(1);
    assert.equal(q.share, 1);
    assert.equal(await q.acquire('import'), 2000);
    assert.throws(() => q.setShare(0), RangeError);
    assert.throws(() => q.setShare(1.5), RangeError);
  });
  test('every window of an endpoint must allow the call', async () => {
    const clock = fakeClock();
    const q = new QuotaLimiter({ import: [], batchDelete: [], list: [{ limit: 100, windowMs: 60_000 }, { limit: 2, windowMs: 3_600_000 }] }, 1, clock);
    await q.acquire('list');
    await q.acquire('list');
    assert.ok(Math.abs((await q.acquire('list')) - 1_800_000) <= 1);
  });
  test('a share below one call per window still allows one call', async () => {
    const clock = fakeClock();
    const q = new QuotaLimiter({ import: [{ limit: 30, windowMs: 60_000 }], batchDelete: [], list: [] }, 0.01, clock);
    assert.equal(await q.acquire('import'), 0);
    assert.ok((await q.acquire('import')) > 0);
  });
});
