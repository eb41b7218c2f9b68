// Transactions and fencing through the kafkajs adapter against the real broker from KAFKA_BROKERS.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ProducerFencedError } from '../src/index.ts';
import { testBed, unique, waitFor } from './helpers.ts';
import type { TestBed } from './helpers.ts';

let bed: TestBed;
before(async () => {
  bed = await testBed();
});
after(() => bed.close());

const T = { timeout: 90_000 };

test('transaction commit is visible and abort invisible to read_committed consumers', T, async () => {
  const commands = await bed.topic('tx-commands', 2);
  const checkpoints = await bed.topic('tx-checkpoints', 1, { 'cleanup.policy': 'compact' });
  const producer = await bed.kafka.transactionalProducer(unique('stream-listener'));

  const acks = await producer.transaction(async (tx) =>
    tx.send([
      { topic: commands, key: 'a', value: 'a1' },
      { topic: commands, key: 'b', value: 'b1' },
      { topic: checkpoints, key: 'stream-1', value: 'event-1' },
    ])
  );
  assert.equal(new Set(acks.map((a) => a.topic)).size, 2);
  await assert.rejects(
    producer.transaction(async (tx) => {
      await tx.send([
        { topic: commands, key: 'a', value: 'aborted' },
        { topic: checkpoints, key: 'stream-1', value: 'aborted' },
      ]);
      throw new Error('listener failed before commit');
    }),
    /listener failed before commit/,
  );
  await producer.transaction((tx) =>
    tx.send([
      { topic: commands, key: 'c', value: 'c1' },
      { topic: checkpoints, key: 'stream-1', value: 'event-3' },
    ])
  );

  const seen: string[] = [];
  const consumer = await bed.kafka.consumer({ groupId: unique('group'), topics: [commands] });
  await consumer.run((batch) => {
    seen.push(...batch.records.map((r) => String(r.value)));
    batch.resolveOffset(batch.lastOffset);
    return consumer.commit([{ topic: commands, partition: batch.partition, offset: batch.lastOffset + 1n }]);
  });
  await waitFor('committed records', () => seen.length >= 3);
  // Commits of lastOffset + 1 cover the transaction markers: no phantom lag.
  const lag = await consumer.lag();
  await consumer.close();
  assert.deepEqual(seen.sort(), ['a1', 'b1', 'c1']);
  assert.ok(lag.every((p) => p.lag === 0n), JSON.stringify(lag, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));

  const checkpoint = await bed.kafka.readCompacted(checkpoints);
  assert.equal(checkpoint.get('stream-1')?.value.toString(), 'event-3');
});

test('a transaction commits consumer offsets atomically (sendOffsets)', T, async () => {
  const input = await bed.topic('tx-input', 1);
  const output = await bed.topic('tx-output', 1);
  const groupId = unique('group');
  const plain = await bed.kafka.producer();
  await plain.send([{ topic: input, key: 'k', value: 'x' }]);
  const producer = await bed.kafka.transactionalProducer(unique('defender-writer'));
  await producer.transaction(async (tx) => {
    await tx.send([{ topic: output, key: 'k', value: 'state' }]);
    await tx.sendOffsets(groupId, [{ topic: input, partition: 0, offset: 1n }]);
  });
  const consumer = await bed.kafka.consumer({ groupId, topics: [input] });
  const lag = await consumer.lag();
  await consumer.close();
  assert.deepEqual(lag, [{ topic: input, partition: 0, committed: 1n, end: 1n, lag: 0n }]);
});

test('a newer producer with the same transactionalId fences the zombie', T, async () => {
  const topic = await bed.topic('fence', 1);
  const id = `stream-listener:${unique('stream')}`;
  const zombie = await bed.kafka.transactionalProducer(id);
  await zombie.transaction((tx) => tx.send([{ topic, key: 'k', value: 'from zombie, before' }]));

  const successor = await bed.kafka.transactionalProducer(id);
  await assert.rejects(
    zombie.transaction((tx) => tx.send([{ topic, key: 'k', value: 'from zombie, after' }])),
    (err: unknown) => {
      assert.ok(err instanceof ProducerFencedError, String(err));
      assert.equal(err.transactionalId, id);
      assert.match(err.message, /producer fenced/);
      return true;
    },
  );
  await successor.transaction((tx) => tx.send([{ topic, key: 'k', value: 'from successor' }]));
  await zombie.close().catch(() => undefined);

  const latest = await bed.kafka.readCompacted(topic);
  assert.equal(latest.get('k')?.value.toString(), 'from successor');
});
