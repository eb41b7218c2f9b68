// The listener never wedges on one event and never checkpoints past an event it did not get:
// against the OpenCTI emulator (real HTTP/SSE) and a real Kafka broker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startOpenCtiEmulator, type OpenCtiEmulator, type OpenCtiEmulatorOptions, type StixObject } from '@octi-defender/emulators';
import { EventQueue } from '../src/event-queue.ts';
import type { DeadLetter } from '../src/publisher.ts';
import { StreamReader, type RawStreamEvent } from '../src/stream-reader.ts';
import { listenerConfig, startListener, tail, TOKEN, uniqueTopics, until } from './helpers.ts';

const STREAM = 'c1a2b3c4-0000-4000-8000-00000000000a';
const MiB = 1024 * 1024;
const KiB = 1024;

function emulator(extra: Partial<OpenCtiEmulatorOptions> = {}): Promise<OpenCtiEmulator> {
  return startOpenCtiEmulator({ port: 0, host: '127.0.0.1', token: TOKEN, streams: [{ id: STREAM }], heartbeatMs: 200, seed: 21, ...extra });
}

test('a 20 MiB event is normalized and a 100 MiB one is skipped with a dead letter, and the stream goes on', async (t) => {
  const octi = await emulator();
  t.after(() => octi.close());
  const topics = uniqueTopics();
  const h = startListener(listenerConfig(octi.url, [STREAM], topics, { CONNECTOR_LIVE_STREAM_START_FROM: '0-0' }));
  t.after(() => h.close());

  const before = octi.generator.indicator('ipv4');
  // ~20 MiB of external references: big, and nothing of it belongs in a command.
  const large: StixObject = {
    ...octi.generator.indicator('domain'),
    external_references: Array.from({ length: 100_000 }, (_, i) => ({ source_name: 'feed', url: `https://reports.example.com/${i}/${'r'.repeat(170)}` })),
  };
  const huge: StixObject = { ...octi.generator.indicator('url'), description: 'x'.repeat(100 * MiB) };
  const after = octi.generator.indicator('sha256');
  const [, largeEvent, hugeEvent] = octi.append(
    { op: 'create', data: before },
    { op: 'create', data: large },
    { op: 'create', data: huge },
    { op: 'create', data: after },
  );

  await h.listener.start();
  const cmds = await tail(h.kafka, topics.commands);
  const dlq = await tail(h.kafka, topics.dlq);
  t.after(() => Promise.all([cmds.close(), dlq.close()]));
  await until('commands for the three indicators that fit', () => cmds.records.length >= 3, 120_000);
  assert.deepEqual(cmds.commands().map((c) => c.source.standardId), [before.id, large.id, after.id]);
  assert.equal(cmds.commands()[1]!.source.eventId, largeEvent!.id);

  await until('the dead letter of the huge event', () => dlq.records.length >= 1, 60_000);
  const letter = JSON.parse(dlq.records[0]!.value) as DeadLetter;
  assert.equal(letter.reason, 'oversized_event');
  assert.equal(letter.eventId, hugeEvent!.id);
  assert.equal(letter.entityId, huge.id);
  assert.equal(letter.entityType, 'indicator');
  assert.ok(letter.size !== undefined && letter.size > 100 * MiB, `size ${letter.size}`);
  assert.ok(letter.raw.length <= 4096 && letter.truncated);
  assert.match(h.listener.ready().detail, new RegExp(`skipped ${hugeEvent!.id} \\(oversized_event\\)`));
  assert.equal(await reconnects(h), 0, 'no event made the connection fail');
});

test('a position the connection keeps failing inside is skipped after LISTENER_POSITION_MAX_FAILURES, with a dead letter', async (t) => {
  const octi = await emulator();
  t.after(() => octi.close());
  const topics = uniqueTopics();
  const h = startListener(listenerConfig(octi.url, [STREAM], topics, { CONNECTOR_LIVE_STREAM_START_FROM: '0-0', LISTENER_POSITION_MAX_FAILURES: '3' }));
  t.after(() => h.close());
  const [first, stuck, last] = octi.append(
    { op: 'create', data: octi.generator.indicator('ipv4') },
    { op: 'create', data: octi.generator.indicator('domain') },
    { op: 'create', data: octi.generator.indicator('url') },
  );
  // Every connection dies halfway through this event (a proxy's response limit, a crashing node).
  octi.cutConnections({ eventId: stuck!.id, at: 'inside', times: Number.POSITIVE_INFINITY });

  await h.listener.start();
  const cmds = await tail(h.kafka, topics.commands);
  const dlq = await tail(h.kafka, topics.dlq);
  t.after(() => Promise.all([cmds.close(), dlq.close()]));
  await until('the events around the stuck one', () => cmds.records.length >= 2);
  assert.deepEqual(cmds.commands().map((c) => c.source.eventId), [first!.id, last!.id]);
  await until('a stuck_position dead letter', () => dlq.records.length >= 1);
  const letter = JSON.parse(dlq.records[0]!.value) as DeadLetter;
  assert.equal(letter.reason, 'stuck_position');
  assert.equal(letter.eventId, stuck!.id);
  assert.equal(await reconnects(h), 3, 'three failed connections, then skipped');
  assert.ok(h.lines.some((l) => l.includes('"reason":"stuck_position"')));
  assert.match(h.listener.ready().detail, /\(stuck_position\)/);
  const counted = (await h.metrics.deadLetters.get()).values.find((v) => v.labels.reason === 'stuck_position');
  assert.equal(counted?.value, 1);
});

test('heartbeat race: a heartbeat written between an event and its dependencies does not skip the event', async (t) => {
  // OpenCTI writes an event's dependencies (markings, author) with the event's id, awaits, then the
  // event; its heartbeat timer can fire in between with that id. The connection is cut right there.
  const octi = await emulator({ heartbeatRace: true, heartbeatMs: 600_000 });
  t.after(() => octi.close());
  const topics = uniqueTopics();
  const h = startListener(listenerConfig(octi.url, [STREAM], topics, { CONNECTOR_LIVE_STREAM_START_FROM: '0-0' }));
  t.after(() => h.close());
  const indicator = octi.generator.indicator('ipv4');
  assert.ok(Array.isArray(indicator.object_marking_refs) && indicator.object_marking_refs.length > 0, 'the indicator has dependencies');
  const [created] = octi.append({ op: 'create', data: indicator });
  octi.cutConnections({ eventId: created!.id, at: 'after-dependencies' });

  await h.listener.start();
  const cmds = await tail(h.kafka, topics.commands);
  t.after(() => cmds.close());
  await until('the event after the reconnection', () => cmds.records.length >= 1);
  assert.equal(cmds.commands()[0]!.source.standardId, indicator.id);
  assert.ok((await reconnects(h)) >= 1, 'the connection was cut after the heartbeat');
});

async function reconnects(h: { metrics: { reconnects: { get(): Promise<{ values: Array<{ value: number }> }> } } }): Promise<number> {
  return (await h.metrics.reconnects.get()).values.reduce((n, v) => n + v.value, 0);
}

test('the reader stops reading while the queue holds its byte bound, and resumes losing nothing', async (t) => {
  const count = 5000; // ~6 MiB of events, far over the bound
  const octi = await startOpenCtiEmulator({ port: 0, host: '127.0.0.1', token: TOKEN, streams: [{ id: 'load', load: { count } }], heartbeatMs: 60_000 });
  t.after(() => octi.close());
  const bound = 256 * KiB;
  const queue = new EventQueue<RawStreamEvent>(1_000_000, bound, (ev) => ev.data.length);
  let peak = 0;
  let waits = 0;
  const reader = new StreamReader({
    baseUrl: octi.url,
    token: TOKEN,
    streamId: 'load',
    listenDelete: true,
    noDependencies: false,
    withInferences: false,
    position: () => ({ from: '0-0', recover: undefined }),
    onEvent: (ev) => {
      queue.push(ev);
      peak = Math.max(peak, queue.bytes);
    },
    hasRoom: () => queue.hasRoom(),
    waitForRoom: () => {
      waits += 1;
      return queue.waitForRoom();
    },
    backoff: { minMs: 50, maxMs: 500 },
    configErrorRetryMs: 1000,
    heartbeatTimeoutMs: 60_000,
    maxEventBytes: 64 * MiB,
    maxPositionFailures: 5,
  });
  t.after(() => reader.close());
  reader.start();
  await until('the reader waits for room', () => waits === 1);
  const held = queue.size;
  assert.ok(queue.bytes >= bound && held < count / 4, `paused with ${held} events (${queue.bytes} chars) queued`);

  // Drained in steps: every event arrives once, in order, and the queue never holds much more than its bound.
  const seqs: number[] = [];
  while (seqs.length < count) {
    await until('more events', () => queue.size > 0);
    for (const ev of queue.peek(queue.size)) if (ev.name === 'create') seqs.push(Number(ev.id.split('-')[1]));
    queue.drop(queue.size);
  }
  assert.deepEqual(seqs, Array.from({ length: count }, (_, i) => i));
  assert.ok(waits > 1, 'paused again after the first drain');
  // What one read of the body adds past the bound (a socket chunk), never the stream.
  assert.ok(peak < bound + 512 * KiB, `peak ${peak} chars`);
  assert.equal(reader.state, 'connected', 'waiting for room is not silence: no reconnection');
});
