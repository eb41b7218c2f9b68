import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay, type BackoffOptions } from '@octi-defender/platform';

const none = (over: Partial<BackoffOptions> = {}): BackoffOptions => ({ baseMs: 100, maxMs: 5000, jitter: 'none', ...over });

test('no jitter: base, doubling at each attempt, capped at maxMs', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(none(), a)), [100, 200, 400, 800, 1600, 3200, 5000]);
  assert.equal(backoffDelay(none(), 1e6), 5000);
  assert.equal(backoffDelay(none(), Number.MAX_SAFE_INTEGER), 5000);
});

test('no jitter never calls random', () => {
  assert.equal(backoffDelay(none({ random: () => assert.fail('random called') }), 3), 800);
});

test('maxDoublings stops the doubling below maxMs', () => {
  assert.deepEqual([0, 1, 2, 3, 9].map((a) => backoffDelay(none({ maxMs: 1e9, maxDoublings: 2 }), a)), [100, 200, 400, 400, 400]);
  assert.equal(backoffDelay(none({ maxDoublings: 10 }), 20), 5000);
  assert.equal(backoffDelay(none({ maxDoublings: 0 }), 5), 100);
});

test('full jitter: uniform in [0, ceiling]', () => {
  const full = (random: () => number): BackoffOptions => ({ baseMs: 100, maxMs: 5000, jitter: 'full', random });
  assert.equal(backoffDelay(full(() => 0), 3), 0);
  assert.equal(backoffDelay(full(() => 0.5), 3), 400);
  assert.equal(backoffDelay(full(() => 1), 3), 800);
  assert.equal(backoffDelay(full(() => 1), 40), 5000);
  assert.equal(backoffDelay(full(() => 0.25), 0), 25);
});

test('from-base jitter: uniform in [baseMs, ceiling]', () => {
  const fromBase = (random: () => number): BackoffOptions => ({ baseMs: 100, maxMs: 5000, jitter: 'from-base', random });
  assert.equal(backoffDelay(fromBase(() => 0), 0), 100);
  assert.equal(backoffDelay(fromBase(() => 1), 0), 100);
  assert.equal(backoffDelay(fromBase(() => 0), 3), 100);
  assert.equal(backoffDelay(fromBase(() => 0.5), 3), 450);
  assert.equal(backoffDelay(fromBase(() => 1), 3), 800);
  assert.equal(backoffDelay(fromBase(() => 1), 1e6), 5000);
});

test('jitter uses Math.random by default and stays in range', () => {
  for (let i = 0; i < 200; i++) {
    const full = backoffDelay({ baseMs: 100, maxMs: 5000, jitter: 'full' }, 4);
    assert.ok(full >= 0 && full <= 1600, String(full));
    const fromBase = backoffDelay({ baseMs: 100, maxMs: 5000, jitter: 'from-base' }, 4);
    assert.ok(fromBase >= 100 && fromBase <= 1600, String(fromBase));
  }
});

test('a zero base stays zero however many attempts', () => {
  for (const jitter of ['none', 'full', 'from-base'] as const) {
    assert.equal(backoffDelay({ baseMs: 0, maxMs: 5000, jitter, random: () => 1 }, 1e6), 0, jitter);
  }
});

test('maxMs below baseMs wins: no pause exceeds maxMs', () => {
  assert.equal(backoffDelay(none({ baseMs: 1000, maxMs: 300 }), 0), 300);
  assert.equal(backoffDelay({ baseMs: 1000, maxMs: 300, jitter: 'full', random: () => 1 }, 2), 300);
});

test('bad attempts and figures are refused', () => {
  for (const attempt of [-1, 0.5, Number.NaN, Number.POSITIVE_INFINITY]) assert.throws(() => backoffDelay(none(), attempt), RangeError, String(attempt));
  assert.throws(() => backoffDelay(none({ baseMs: -1 }), 0), RangeError);
  assert.throws(() => backoffDelay(none({ maxMs: Number.NaN }), 0), RangeError);
});

test("the callers' figures", () => {
  // Kafka admin retries: 200 ms after the first failure, doubling, at most 2 s.
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((a) => backoffDelay({ baseMs: 200, maxMs: 2000, jitter: 'none' }, a)), [200, 400, 800, 1600, 2000, 2000]);
  // e2e supervisor: 0.5 s, doubling, at most 8 s.
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((a) => backoffDelay({ baseMs: 500, maxMs: 8000, jitter: 'none' }, a)), [500, 1000, 2000, 4000, 8000, 8000]);
  // sighting-reporter: 1 s, doubling at most 20 times.
  assert.equal(backoffDelay({ baseMs: 1000, maxMs: 1e12, jitter: 'none', maxDoublings: 20 }, 30), 1000 * 2 ** 20);
});
