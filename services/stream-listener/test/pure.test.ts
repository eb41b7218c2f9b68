import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../src/backoff.ts';
import { EventQueue } from '../src/event-queue.ts';
import { compareEventIds, safeCheckpoint } from '../src/stream-position.ts';

test('backoff grows exponentially with full jitter and is capped', () => {
  const p = { minMs: 100, maxMs: 5000 };
  assert.equal(backoffDelay(p, 0, () => 0), 100);
  assert.equal(backoffDelay(p, 0, () => 1), 100);
  assert.equal(backoffDelay(p, 3, () => 1), 800);
  assert.equal(backoffDelay(p, 3, () => 0.5), 450);
  assert.equal(backoffDelay(p, 20, () => 1), 5000);
  assert.equal(backoffDelay(p, 1e6, () => 1), 5000);
  for (let i = 0; i < 100; i++) {
    const d = backoffDelay(p, 4);
    assert.ok(d >= 100 && d <= 1600, String(d));
  }
});

test('event queue is FIFO, bounded, and wakes waiters', async () => {
  const q = new EventQueue<number>(3);
  assert.equal(q.hasRoom(), true);
  q.push(1);
  q.push(2);
  q.push(3);
  assert.equal(q.hasRoom(), false);
  let roomed = false;
  const room = q.waitForRoom().then(() => (roomed = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(roomed, false);
  assert.deepEqual(q.peek(2), [1, 2]);
  q.drop(2);
  await room;
  assert.equal(roomed, true);
  assert.deepEqual(q.peek(10), [3]);
  q.drop(1);
  assert.equal(q.size, 0);

  const ac = new AbortController();
  let woke = false;
  const items = q.waitForItems(ac.signal).then(() => (woke = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(woke, false);
  q.push(4);
  await items;
  assert.equal(woke, true);
  q.drop(1);
  const aborted = q.waitForItems(ac.signal);
  ac.abort();
  await aborted;
});

test('event queue compaction keeps order across many drops', () => {
  const q = new EventQueue<number>(10_000);
  for (let i = 0; i < 5000; i++) q.push(i);
  for (let i = 0; i < 4990; i += 10) {
    assert.equal(q.peek(1)[0], i);
    q.drop(10);
  }
  assert.deepEqual(q.peek(100), [4990, 4991, 4992, 4993, 4994, 4995, 4996, 4997, 4998, 4999]);
});

test('event ids compare numerically by time then sequence', () => {
  assert.equal(compareEventIds('1700000000000-0', '1700000000000-0'), 0);
  assert.equal(compareEventIds('1700000000000-2', '1700000000000-10'), -1);
  assert.equal(compareEventIds('1700000000001-0', '1700000000000-99'), 1);
  assert.equal(compareEventIds('0', '0-0'), 0);
});

test('checkpoints only ids proven complete', () => {
  const e = (id: string, heartbeat = false): { id: string; heartbeat: boolean } => ({ id, heartbeat });
  // A later event in the queue proves the batch's last id complete.
  assert.equal(safeCheckpoint([e('1-0'), e('2-0')], { id: '3-0' }, undefined), '2-0');
  // A heartbeat proves its id complete.
  assert.equal(safeCheckpoint([e('1-0'), e('2-0', true)], undefined, undefined), '2-0');
  // Nothing after the tail yet: fall back to the previous distinct id…
  assert.equal(safeCheckpoint([e('1-0'), e('2-0'), e('2-0')], undefined, '0-5'), '1-0');
  // …or keep the previous checkpoint.
  assert.equal(safeCheckpoint([e('2-0'), e('2-0')], undefined, '1-9'), '1-9');
  assert.equal(safeCheckpoint([e('2-0')], { id: '2-0' }, '1-9'), '1-9');
  assert.equal(safeCheckpoint([], undefined, '1-9'), '1-9');
});

test('event queue is also bounded by the size of what it holds', () => {
  const q = new EventQueue<string>(100, 10, (s) => s.length);
  q.push('abcd');
  q.push('efgh');
  assert.equal(q.hasRoom(), true);
  q.push('ijkl');
  assert.equal(q.bytes, 12);
  assert.equal(q.hasRoom(), false, 'over the byte budget although far below the count');
  q.drop(1);
  assert.equal(q.bytes, 8);
  assert.equal(q.hasRoom(), true);
});
