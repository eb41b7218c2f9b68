import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { abortable, PACE_BURST, pacing, QuotaLimiter, systemClock, WINDOW_GUARD, type Clock } from '../src/defender/quota.ts';
import { maxInWindow } from './harness.ts';

function fakeClock(): Clock & { t: number } {
  const c = { t: 0, now: () => c.t, sleep: (ms: number) => ((c.t += ms), Promise.resolve()) };
  return c;
}

const MINUTE = 60_000 * (1 + WINDOW_GUARD);

describe('QuotaLimiter', () => {
  test('a quiet endpoint answers PACE_BURST calls at once, then one per window / limit', async () => {
    const clock = fakeClock();
    const q = new QuotaLimiter({ import: [{ limit: 30, windowMs: 60_000 }], batchDelete: [], list: [] }, 1, clock);
    for (let i = 0; i < PACE_BURST; i++) assert.equal(await q.acquire('import'), 0);
    assert.equal(await q.acquire('import'), (MINUTE * PACE_BURST) / 30);
    clock.t += 60_000;
    assert.equal(await q.acquire('import'), 0, 'after a quiet minute, at once again');
  });
  test('under sustained demand the budget is used evenly: never more than the limit in a window, no gap longer than two spacings (a window alone sent 30 calls at once, then none for a minute)', async () => {
    const clock = fakeClock();
    const q = new QuotaLimiter({ import: [{ limit: 30, windowMs: 60_000 }], batchDelete: [], list: [] }, 1, clock);
    const times: number[] = [];
    for (let i = 0; i < 120; i++) {
      await q.acquire('import');
      times.push(clock.t);
    }
    assert.ok(maxInWindow(times, 60_000) <= 30, String(maxInWindow(times, 60_000)));
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    assert.ok(Math.max(...gaps) <= (2 * MINUTE) / 30 + 1, `longest gap ${Math.max(...gaps)} ms`);
    assert.ok(maxInWindow(times, 15_000) <= 8, `${maxInWindow(times, 15_000)} calls in 15 s`);
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
    const times: number[] = [];
    for (let i = 0; i < 60; i++) {
      await q.acquire('import');
      times.push(clock.t);
    }
    assert.ok(maxInWindow(times, 60_000) <= 15, String(maxInWindow(times, 60_000)));
    assert.ok(maxInWindow(times, 60_000) >= 14, 'half the budget is used');
    q.setShare(1);
    assert.equal(q.share, 1);
    clock.t += 120_000;
    const after: number[] = [];
    for (let i = 0; i < 60; i++) {
      await q.acquire('import');
      after.push(clock.t);
    }
    assert.ok(maxInWindow(after, 60_000) <= 30 && maxInWindow(after, 60_000) >= 29, String(maxInWindow(after, 60_000)));
    assert.throws(() => q.setShare(0), RangeError);
    assert.throws(() => q.setShare(1.5), RangeError);
  });
  test('pacing: PACE_BURST calls over the shortest window scaled down; none for a limit of PACE_BURST or less', () => {
    assert.deepEqual(pacing([{ limit: 1500, windowMs: 3_600_000 }, { limit: 30, windowMs: 60_000 }]), [{ limit: PACE_BURST, windowMs: (60_000 * PACE_BURST) / 30 }]);
    assert.deepEqual(pacing([{ limit: 2, windowMs: 60_000 }]), []);
    assert.deepEqual(pacing([]), []);
  });
  test('readyInMs: how long the next call would wait, without taking a slot; `even` waits one spacing after the last call; a Retry-After is not counted', async () => {
    const clock = fakeClock();
    const q = new QuotaLimiter({ import: [{ limit: 30, windowMs: 60_000 }], batchDelete: [], list: [] }, 1, clock);
    const spacing = MINUTE / 30;
    assert.equal(q.readyInMs('import'), 0);
    assert.equal(q.readyInMs('import', true), 0, 'a quiet endpoint: at once');
    await q.acquire('import');
    assert.equal(q.readyInMs('import'), 0, 'the pacing allows a second call at once');
    assert.equal(q.readyInMs('import', true), spacing, 'at the even pace, one spacing later');
    await q.acquire('import');
    const wait = (MINUTE * PACE_BURST) / 30;
    assert.equal(q.readyInMs('import'), wait);
    assert.equal(q.readyInMs('import'), wait, 'asking takes no slot');
    clock.t += wait / 2;
    assert.equal(q.readyInMs('import'), wait / 2);
    q.blockFor('batchDelete', 5000);
    assert.equal(q.readyInMs('batchDelete'), 0);
    assert.equal(await q.acquire('import'), wait / 2);
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
