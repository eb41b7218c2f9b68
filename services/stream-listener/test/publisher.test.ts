// The publisher's pipeline against a real Kafka broker: the next round is normalized while the
// previous transaction is in flight, and a transaction that fails takes the round prepared behind
// it down too, so nothing is published out of order and the checkpoint never passes a command that
// was not committed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { StixGenerator } from '@octi-defender/emulators';
import { MarkingRegistry, normalizeEvent } from '@octi-defender/indicators';
import { partitionForKey, ProducerFencedError, topicDefinitions, type TransactionalProducer } from '@octi-defender/kafka';
import { createRegistry } from '@octi-defender/platform';
import { decodeCheckpoint } from '../src/checkpoint.ts';
import { EventQueue } from '../src/event-queue.ts';
import { createListenerMetrics } from '../src/metrics.ts';
import { Publisher, type StreamSlot } from '../src/publisher.ts';
import type { RawStreamEvent } from '../src/stream-reader.ts';
import { quietLogger, tail, testKafka, uniqueTopics, until } from './helpers.ts';

const STREAM = 'c1a2b3c4-0000-4000-8000-0000000000aa';

test('a transaction that fails mid-commit publishes nothing after it, and the checkpoint stays with the committed commands', async (t) => {
  const kafka = testKafka();
  t.after(() => kafka.close());
  const topics = uniqueTopics();
  const admin = await kafka.admin();
  await admin.createTopics(topicDefinitions({ commandsTopic: topics.commands, checkpointsTopic: topics.checkpoints, dlqTopic: topics.dlq }).filter((d) => d.role !== 'state'));
  const [described] = await admin.describeTopics([topics.commands]);
  await admin.close();
  const partitions = described?.partitions ?? 0;

  const generator = new StixGenerator({ seed: 5 });
  const events: RawStreamEvent[] = Array.from({ length: 40 }, (_, i) => ({
    streamId: STREAM,
    id: `${1_700_000_000_000 + i}-0`,
    name: 'create',
    data: JSON.stringify({ version: '4', type: 'create', data: generator.indicator(i % 2 === 0 ? 'ipv4' : 'domain') }),
  }));
  const queue = new EventQueue<RawStreamEvent>(1000);
  for (const ev of events) queue.push(ev);
  const slot: StreamSlot = {
    streamId: STREAM,
    queue,
    checkpoint: undefined,
    recoverUntil: undefined,
    startFrom: undefined,
    resumeFrom: undefined,
    resync: undefined,
    replayed: 0,
    resyncRequest: undefined,
  };

  const metrics = createListenerMetrics(createRegistry({ prefix: `t${randomUUID().slice(0, 6)}` }));
  const total = async (counter: { get(): Promise<{ values: Array<{ value: number }> }> }): Promise<number> => (await counter.get()).values.reduce((a, v) => a + v.value, 0);
  const { logger, lines } = quietLogger();
  // Every event normalized so far (the publisher logs each at debug level).
  const eventsRead = (): number => lines.filter((l) => l.includes('"msg":"normalized"')).length;
  const real = await kafka.transactionalProducer(topics.group);
  // Events normalized when each transaction's records were sent; the third one is fenced after
  // its records went out, before its commit (what a newer listener's activation does).
  const readAtSend: number[] = [];
  const producer: TransactionalProducer = {
    transactionalId: real.transactionalId,
    transaction: (work) =>
      real.transaction(async (tx) => {
        const result = await work(tx);
        readAtSend.push(eventsRead());
        if (readAtSend.length === 3) await (await kafka.transactionalProducer(topics.group)).close();
        return result;
      }),
    close: () => real.close(),
  };
  t.after(() => producer.close());
  const publisher = new Publisher({
    producer,
    commandsTopic: topics.commands,
    commandsPartitions: partitions,
    checkpointsTopic: topics.checkpoints,
    dlqTopic: topics.dlq,
    streams: [slot],
    maxBatch: 5,
    markings: new MarkingRegistry(),
    logger,
    metrics,
  });
  await assert.rejects(publisher.run(new AbortController().signal), ProducerFencedError);

  // Pipelined: each round's records were in flight while the next round was already normalized.
  assert.deepEqual(readAtSend, [10, 15, 20]);
  // The failed round and the one prepared behind it stay queued for the next term; nothing else was sent.
  assert.equal(queue.size, 30);
  assert.equal(slot.checkpoint?.lastEventId, events[9]?.id, "the second round's checkpoint: its last event, proven by the next one");
  // The counters count what committed only: 20 events were normalized, 10 committed.
  assert.equal(await total(metrics.events), 10);
  assert.deepEqual((await metrics.events.get()).values.map((v) => [v.labels, v.value]), [[{ stream: STREAM, event: 'create' }, 10]]);
  const committedCommands = await total(metrics.commands);

  // A record on every partition after the failure: once all are read, so is everything committed before.
  const observer = testKafka();
  t.after(() => observer.close());
  const reader = await tail(observer, topics.commands);
  t.after(() => reader.close());
  const checkpoints = await tail(observer, topics.checkpoints);
  t.after(() => checkpoints.close());
  const after = await observer.producer();
  const sentinels = new Map<number, string>();
  for (let i = 0; sentinels.size < partitions; i++) {
    const p = partitionForKey(`sentinel:${i}`, partitions);
    if (!sentinels.has(p)) sentinels.set(p, `sentinel:${i}`);
  }
  await after.send([...[...sentinels.values()].map((key) => ({ topic: topics.commands, key, value: 'sentinel' })), { topic: topics.checkpoints, key: 'sentinel', value: 'sentinel' }]);
  await after.close();
  await until('every partition read past the failure', () => reader.records.filter((r) => r.value === 'sentinel').length === partitions && checkpoints.records.some((r) => r.key === 'sentinel'));

  const now = new Date();
  const expected = events.slice(0, 10).flatMap((ev) =>
    normalizeEvent({ streamId: STREAM, id: ev.id, name: 'create', data: JSON.parse(ev.data) as unknown }, now, new MarkingRegistry()).commands.map((c) => `${c.key} ${ev.id}`)
  );
  const committed = reader.records.filter((r) => r.value !== 'sentinel');
  const published = committed.map((r) => {
    const c = JSON.parse(r.value) as { key: string; source: { eventId: string } };
    return { partition: r.partition, line: `${c.key} ${c.source.eventId}`, eventId: c.source.eventId };
  });
  assert.deepEqual(published.map((p) => p.line).sort(), [...expected].sort(), 'exactly the commands of the two committed rounds');
  assert.equal(committedCommands, expected.length, 'commands_total counts the committed commands');
  // In queue order on every partition.
  for (let p = 0; p < partitions; p++) {
    const ids = published.filter((x) => x.partition === p).map((x) => x.eventId);
    assert.deepEqual(ids, [...ids].sort((a, b) => Number(a.split('-')[0]) - Number(b.split('-')[0])), `partition ${p} in event order`);
  }
  const ours = checkpoints.records.filter((r) => r.key === STREAM);
  assert.equal(ours.length, 2, 'one checkpoint per committed round');
  const last = decodeCheckpoint(STREAM, Buffer.from(ours.at(-1)?.value ?? ''));
  assert.equal(last?.lastEventId, events[9]?.id, 'the committed checkpoint covers exactly the committed commands');
});
