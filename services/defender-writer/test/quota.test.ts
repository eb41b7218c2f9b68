import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { abortable, QuotaLimiter, systemClock, WINDOW_GUARD, type Clock } from '../src/defender/quota.ts';
import { maxInWindow } from './harness.ts';

function fakeClock(): Clock & { t: number } {
  const c = { t: 0, now: () => c.t, sleep: (ms: number) => ((c.t += ms), Promise.resolve()) };
  return c;
}

const MINUTE = 60_000 * (1 + WINDOW_GUARD);

describe('QuotaLimiter', () => {
  test('the limit at once, then the next call when the oldest leaves the window', async () => {
    const clock = fakeClock();
    const q = new QuotaLimiter({ import: [{ limit: 30, windowMs: 60_000 }], batchDelete: [], list: [] }, 1, clock);
    for (let i = 0; i < 30; i++) assert.equal(await q.acquire('import'), 0);
    assert.equal(await q.acquire('import'), MINUTE);
  });
  test('never more than the limit in any window under sustained demand (a token bucket allows twice that)', async () => {
    const clock = fakeClock();
    const q = new QuotaLimiter({ import: [{ limit: 30, windowMs: 60_000 }], batchDelete: [], list: [] }, 1, clock);
    const times: number[] = [];
    for (let i = 0; i < 200; i++) {
      await q.acquire('import');
      times.push(clock.t);
      clock.t += (i * 7919) % 1500; // uneven demand
    }
    assert.ok(maxInWindow(times, 60_000) <= 30, String(maxInWindow(times, 60_000)));
  });
  test('the share scales the budget and can change at runtime', async () => {
    const clock = fakeClock();
    const q = new QuotaLimiter({ import: [{ limit: 30, windowMs: 60_000 }], batchDelete: [], list: [] }, 0.5, clock);
    for (let i = 0; i < 15; i++) assert.equal(await q.acquire('import'), 0);
    assert.equal(await q.acquire('import'), MINUTE);
    q.setShare(1);
    assert.equal(q.share, 1);
    // The first 15 have left the window; one call in it, 29 more allowed.
    for (let i = 0; i < 29; i++) assert.equal(await q.acquire('import'), 0);
    assert.ok((await q.acquire('import')) > 0);
    assert.throws(() => q.setShare(0), RangeError);
    assert.throws(() => q.setShare(1.5), RangeError);
  });
  test('every window of an endpoint must allow the call', async () => {
    const clock = fakeClock();
    const q = new QuotaLimiter({ import: [], batchDelete: [], list: [{ limit: 100, windowMs: 60_000 }, { limit: 2, windowMs: 3_600_000 }] }, 1, clock);
    await q.acquire('list');
    await q.acquire('list');
    assert.equal(await q.acquire('list'), 3_600_000 * (1 + WINDOW_GUARD));
  });
  test('a share below one call per window still allows one call, then one per window / share', async () => {
    const clock = fakeClock();
    const q = new QuotaLimiter({ import: [{ limit: 30, windowMs: 60_000 }], batchDelete: [], list: [] }, 0.01, clock);
    assert.equal(await q.acquire('import'), 0);
    assert.ok(Math.abs((await q.acquire('import')) - MINUTE / 0.3) <= 1);
  });
});

/** Time moves only by advance(); its sleeps ignore abort signals (the limiter must not rely on them). */
function manualClock(): Clock & { advance(ms: number): void } {
  let t = 0;
  let sleepers: { at: number; wake: () => void }[] = [];
  return {
    now: () => t,
    sleep: (ms) => new Promise<void>((wake) => sleepers.push({ at: t + ms, wake })),
    advance(ms) {
      t += ms;
      for (const s of sleepers.filter((x) => x.at <= t)) s.wake();
      sleepers = sleepers.filter((x) => x.at > t);
    },
  };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));
const timeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('cancelling waits', () => {
  test('an aborted acquire rejects at once with the reason, takes no slot, and the callers behind it move up', async () => {
    const clock = manualClock();
    const q = new QuotaLimiter({ import: [{ limit: 1, windowMs: 60_000 }], batchDelete: [], list: [] }, 1, clock);
    assert.equal(await q.acquire('import'), 0);
    const ac = new AbortController();
    const aborted = q.acquire('import', ac.signal);
    const next = q.acquire('import');
    await flush();
    const reason = new Error('closing');
    ac.abort(reason);
    await assert.rejects(aborted, (e) => e === reason);
    await flush();
    // One window after the first call, not two: the aborted caller took no slot.
    clock.advance(MINUTE);
    assert.equal(await next, MINUTE);
  });

  test('an already aborted signal rejects without queueing', async () => {
    const q = new QuotaLimiter({ import: [{ limit: 1, windowMs: 60_000 }], batchDelete: [], list: [] }, 1, fakeClock());
    await assert.rejects(q.acquire('import', AbortSignal.abort(new Error('gone'))), /gone/);
    assert.equal(await q.acquire('import'), 0);
  });

  test('systemClock.sleep: abort rejects with the reason and clears the timer', async () => {
    const before = timeouts();
    const ac = new AbortController();
    const sleeping = systemClock.sleep(600_000, ac.signal);
    assert.equal(timeouts(), before + 1);
    ac.abort(new Error('stop'));
    await assert.rejects(sleeping, /stop/);
    assert.equal(timeouts(), before);
    await assert.rejects(systemClock.sleep(600_000, ac.signal), /stop/);
    assert.equal(timeouts(), before);
    await systemClock.sleep(1);
  });

  test('abortable: the promise, or the abort reason first', async () => {
    assert.equal(await abortable(Promise.resolve(1), undefined), 1);
    assert.equal(await abortable(Promise.resolve(2), new AbortController().signal), 2);
    const ac = new AbortController();
    const never = abortable(new Promise<number>(() => undefined), ac.signal);
    ac.abort(new Error('now'));
    await assert.rejects(never, /now/);
  });
});
