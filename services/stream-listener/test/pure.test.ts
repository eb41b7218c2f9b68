import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backoffDelay } from '../src/backoff.ts';
import { EventQueue } from '../src/event-queue.ts';
import { compareEventIds } from '@octi-defender/indicators';
import { HEARTBEAT_SKEW_MS, heartbeatProof, safeCheckpoint } from '../src/stream-position.ts';
import { SseParser, type SseMessage } from '../src/sse-parser.ts';
import { activationRetryDelay, ACTIVATION_RETRY_MAX_MS } from '../src/listener.ts';
import { entityOf } from '../src/publisher.ts';
import { historyGap } from '../src/resync.ts';

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
  // Same shape (compared as strings) and exact where Number() would round.
  assert.equal(compareEventIds('1700000000009-5', '1700000000010-5'), -1);
  assert.equal(compareEventIds('1700000000000-18446744073709551614', '1700000000000-18446744073709551615'), -1);
});

test('checkpoints only ids proven complete', () => {
  const e = (id: string, heartbeat = false): { id: string; heartbeat: boolean } => ({ id, heartbeat });
  // A later event in the queue proves the batch's last id complete.
  assert.equal(safeCheckpoint([e('1-0'), e('2-0')], { id: '3-0' }, undefined), '2-0');
  // A heartbeat proves only what is before its id less the skew margin: its own id may belong to an
  // event whose dependencies were written but which itself was not yet.
  const h = 1_700_000_010_000;
  assert.equal(safeCheckpoint([e(`${h}-0`), e(`${h}-0`, true)], undefined, undefined), `${h - HEARTBEAT_SKEW_MS - 1}-18446744073709551615`);
  assert.equal(heartbeatProof(`${h}-3`), `${h - HEARTBEAT_SKEW_MS - 1}-18446744073709551615`);
  // A heartbeat with a greater id does prove a received event complete (the channel moved past it),
  // and the margin never moves the checkpoint back behind it.
  assert.equal(safeCheckpoint([e(`${h - 100}-0`), e(`${h - 50}-0`), e(`${h}-0`, true)], undefined, undefined), `${h - 50}-0`);
  assert.equal(safeCheckpoint([e('2-0', true)], undefined, '1-9'), '1-9');
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

function parse(chunks: Array<string | Uint8Array>, maxEventBytes = 1024): { messages: SseMessage[]; parser: SseParser } {
  const messages: SseMessage[] = [];
  const parser = new SseParser({ maxEventBytes, headBytes: 16, onMessage: (m) => messages.push(m) });
  for (const c of chunks) parser.feed(typeof c === 'string' ? Buffer.from(c) : c);
  return { messages, parser };
}

test('SSE parser: fields, comments, line endings and chunk boundaries as the spec says', () => {
  const text = ': comment\nevent: connected\ndata: {"a":1}\n\nid: 1-0\r\nevent: create\r\ndata: x\r\ndata:y\r\n\r\nid: 2-0\revent: heartbeat\rdata: "d"\r\rdata: no name\n\nid: 3-0\n\n';
  const whole = parse([text]).messages;
  assert.deepEqual(whole, [
    { id: '', name: 'connected', data: '{"a":1}' },
    { id: '1-0', name: 'create', data: 'x\ny' },
    { id: '2-0', name: 'heartbeat', data: '"d"' },
    { id: '', name: 'message', data: 'no name' },
  ]);
  // Byte by byte (CR LF split across chunks, multi-byte characters split) gives the same.
  const bytes = Buffer.from(text + 'id: 4-0\ndata: é€\n\n');
  const split = parse([...bytes].map((b) => Uint8Array.of(b))).messages;
  assert.deepEqual(split.slice(0, 4), whole);
  assert.deepEqual(split[4], { id: '4-0', name: 'message', data: 'é€' });
});

test('SSE parser: an event over the bound is reported with its size and head, and parsing goes on', () => {
  const big = `id: 5-0\nevent: create\ndata: {"data":{"id":"indicator--${'0'.repeat(8)}"${'x'.repeat(5000)}}\n\n`;
  const { messages, parser } = parse([big.slice(0, 700), big.slice(700, 3000), big.slice(3000), 'id: 6-0\nevent: create\ndata: ok\n\n']);
  assert.equal(messages.length, 2);
  assert.equal(messages[0]!.id, '5-0');
  assert.equal(messages[0]!.name, 'create');
  assert.equal(messages[0]!.data, '');
  assert.equal(messages[0]!.oversized?.head, '{"data":{"id":"i');
  assert.equal(messages[0]!.oversized?.bytes, big.length - 4, 'every byte but the line ends');
  assert.deepEqual(messages[1], { id: '6-0', name: 'create', data: 'ok' });
  assert.equal(parser.partial(), undefined);
  // A connection cut inside an event leaves what it was.
  const cut = parse(['id: 7-0\nevent: update\ndata: {"par'], 1024).parser.partial();
  assert.deepEqual(cut, { id: '7-0', name: 'update', bytes: 31, head: '' });
});

test('a dead letter names the entity of a skipped event when its head shows it', () => {
  assert.deepEqual(entityOf('{"version":"4","type":"create","data":{"id":"indicator--0b7d5e4f-8a5c-4b5e-9f00-6f6c3e8a1b2c","spec_version":"2.1","type":"indicator"'), {
    entityType: 'indicator',
    entityId: 'indicator--0b7d5e4f-8a5c-4b5e-9f00-6f6c3e8a1b2c',
  });
  assert.deepEqual(entityOf('{"version":"4","mess'), {});
});

test('activation retries back off from the reconnection minimum to a few seconds, never the stream ceiling', () => {
  assert.equal(activationRetryDelay(1000, 0, () => 1), 1000);
  assert.equal(activationRetryDelay(1000, 2, () => 1), 4000);
  assert.equal(activationRetryDelay(1000, 20, () => 1), ACTIVATION_RETRY_MAX_MS);
  assert.equal(activationRetryDelay(60_000, 0, () => 1), ACTIVATION_RETRY_MAX_MS);
});

test('trimmed history: resuming before the oldest kept event, without having read past it', () => {
  const info = JSON.stringify({ firstEventId: '200-0', lastEventId: '300-0', streamSize: 10 });
  assert.deepEqual(historyGap('100-0', '100-0', info), { firstEventId: '200-0' });
  // A checkpoint kept cautiously behind events already read is no gap.
  assert.equal(historyGap('150-18446744073709551615', '200-0', info), undefined);
  assert.equal(historyGap('250-0', '250-0', info), undefined);
  // From the beginning or live: nothing was expected before the first event.
  assert.equal(historyGap('0-0', undefined, info), undefined);
  assert.equal(historyGap(undefined, undefined, info), undefined);
  assert.equal(historyGap('100-0', undefined, '{"firstEventId":"nope"}'), undefined);
});
