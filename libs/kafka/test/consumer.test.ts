// The kafkajs adapter against the real broker from KAFKA_BROKERS: publish, group consumption with
// manual commits, pause/resume, assignment callbacks, lag.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ConsumerClosedError, partitionForKey } from '../src/index.ts';
import type { Batch, IncomingRecord, TopicPartition } from '../src/index.ts';
import { testBed, unique, waitFor } from './helpers.ts';
import type { TestBed } from './helpers.ts';

let bed: TestBed;
before(async () => {
  bed = await testBed();
});
after(() => bed.close());

const T = { timeout: 90_000 };

test('produce/consume round trip through the kafkajs adapter against a real broker', T, async () => {
  const topic = await bed.topic('roundtrip', 3);
  const producer = await bed.kafka.producer();
  const records = Array.from({ length: 12 }, (_, i) => ({
    topic,
    key: `key-${i % 4}`,
    value: i % 2 === 0 ? `value-${i}` : Buffer.from(`value-${i}`),
    headers: { 'schema-version': '1', n: String(i) },
  }));
  const acks = await producer.send(records);
  assert.ok(acks.length > 0 && acks.every((a) => a.topic === topic && a.baseOffset >= 0n), JSON.stringify(acks, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));

  const received: IncomingRecord[] = [];
  const consumer = await bed.kafka.consumer({ groupId: unique('group'), topics: [topic] });
  await consumer.run(async (batch) => {
    received.push(...batch.records);
    batch.resolveOffset(batch.lastOffset);
    await consumer.commit([{ topic, partition: batch.partition, offset: batch.lastOffset + 1n }]);
  });
  await waitFor('12 records', () => received.length >= 12);
  await consumer.close();

  assert.equal(received.length, 12);
  const byN = new Map(received.map((r) => [r.headers.n?.toString(), r]));
  for (let i = 0; i < 12; i++) {
    const r = byN.get(String(i));
    assert.ok(r, `record ${i}`);
    assert.equal(r.key, `key-${i % 4}`);
    assert.equal(r.value?.toString(), `value-${i}`);
    assert.equal(r.headers['schema-version']?.toString(), '1');
  }
  // partitionForKey predicts where the producer put each key.
  assert.ok(received.every((r) => r.key !== null && partitionForKey(r.key, 3) === r.partition));
  // Same key, same partition, in send order.
  for (let k = 0; k < 4; k++) {
    const same = received.filter((r) => r.key === `key-${k}`);
    assert.equal(new Set(same.map((r) => r.partition)).size, 1);
    assert.deepEqual(
      same.map((r) => r.headers.n?.toString()),
      [k, k + 4, k + 8].map(String),
    );
  }
});

test('manual commit only: a new consumer in the same group resumes after the committed offset', T, async () => {
  const topic = await bed.topic('commit', 1);
  const producer = await bed.kafka.producer();
  await producer.send(Array.from({ length: 6 }, (_, i) => ({ topic, key: 'k', value: String(i) })));
  const groupId = unique('group');

  const first: string[] = [];
  const a = await bed.kafka.consumer({ groupId, topics: [topic] });
  await a.run((batch) => {
    first.push(...batch.records.map((r) => String(r.value)));
    batch.resolveOffset(batch.lastOffset);
    return Promise.resolve();
  });
  await waitFor('6 records', () => first.length >= 6);
  // Everything was processed, only offsets 0..2 are committed: nothing may commit on its own.
  await a.commit([{ topic, partition: 0, offset: 3n }]);
  const lag = await a.lag();
  assert.deepEqual(lag, [{ topic, partition: 0, committed: 3n, end: 6n, lag: 3n }]);
  await a.close();

  const second: string[] = [];
  const b = await bed.kafka.consumer({ groupId, topics: [topic] });
  await b.run((batch) => {
    second.push(...batch.records.map((r) => String(r.value)));
    batch.resolveOffset(batch.lastOffset);
    return Promise.resolve();
  });
  await waitFor('3 records', () => second.length >= 3);
  await b.close();
  assert.deepEqual(second, ['3', '4', '5']);
});

test('pause keeps unresolved records; resume delivers them again', T, async () => {
  const topic = await bed.topic('pause', 1);
  const producer = await bed.kafka.producer();
  await producer.send([1, 2, 3].map((i) => ({ topic, key: 'k', value: String(i) })));
  const tp: TopicPartition = { topic, partition: 0 };

  const deliveries: string[][] = [];
  let paused = false;
  const consumer = await bed.kafka.consumer({ groupId: unique('group'), topics: [topic], maxWaitTimeMs: 100 });
  await consumer.run((batch: Batch) => {
    deliveries.push(batch.records.map((r) => String(r.value)));
    if (!paused) {
      // Like the writer when Defender is down: stop, resolve nothing.
      paused = true;
      consumer.pause([tp]);
      return Promise.resolve();
    }
    batch.resolveOffset(batch.lastOffset);
    return Promise.resolve();
  });
  await waitFor('first delivery', () => deliveries.length === 1);
  assert.deepEqual(consumer.paused(), [tp]);
  await producer.send([{ topic, key: 'k', value: '4' }]);
  // Paused: give the consumer several fetch cycles to (wrongly) deliver.
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(deliveries.length, 1);

  consumer.resume([tp]);
  assert.deepEqual(consumer.paused(), []);
  await waitFor('redelivery', () => deliveries.flat().includes('4'));
  await consumer.close();
  assert.deepEqual(deliveries[0], ['1', '2', '3']);
  assert.deepEqual(deliveries.slice(1).flat(), ['1', '2', '3', '4']);
});

test('assignment callbacks: two consumers split the partitions, state restored before processing', T, async () => {
  const topic = await bed.topic('assign', 4);
  const groupId = unique('group');
  const events: string[] = [];
  const restoredAt = new Map<string, number>();
  const processedBeforeRestore: string[] = [];
  const member = async (name: string) => {
    const owned = new Set<number>();
    const consumer = await bed.kafka.consumer({
      groupId,
      topics: [topic],
      maxWaitTimeMs: 100,
      heartbeatIntervalMs: 500,
      async onAssigned(partitions) {
        events.push(`${name}+${partitions.map((p) => p.partition).join(',')}`);
        await new Promise((r) => setTimeout(r, 200)); // a slow restore
        for (const p of partitions) {
          owned.add(p.partition);
          restoredAt.set(`${name}:${p.partition}`, Date.now());
        }
      },
      onRevoked(partitions) {
        events.push(`${name}-${partitions.map((p) => p.partition).join(',')}`);
        for (const p of partitions) owned.delete(p.partition);
        return Promise.resolve();
      },
    });
    await consumer.run((batch) => {
      if (!owned.has(batch.partition)) processedBeforeRestore.push(`${name}:${batch.partition}`);
      batch.resolveOffset(batch.lastOffset);
      return Promise.resolve();
    });
    return { consumer, owned };
  };

  const a = await member('a');
  await waitFor('a owns all 4', () => a.owned.size === 4);
  const b = await member('b');
  await waitFor('a and b own 2 each', () => a.owned.size === 2 && b.owned.size === 2);
  assert.deepEqual(new Set([...a.owned, ...b.owned]), new Set([0, 1, 2, 3]));
  assert.deepEqual([...a.consumer.assignment()].map((p) => p.partition).sort(), [...a.owned].sort());

  const producer = await bed.kafka.producer();
  await producer.send(Array.from({ length: 40 }, (_, i) => ({ topic, key: `k${i}`, value: 'v' })));
  await b.consumer.close();
  await waitFor('a owns all 4 again', () => a.owned.size === 4);
  await a.consumer.close();
  assert.deepEqual(processedBeforeRestore, []);
  assert.equal(a.owned.size, 0, 'close revokes everything');
  assert.ok(events[0] === 'a+0,1,2,3', events.join(' '));
  assert.ok(events.some((e) => e.startsWith('b+')) && events.some((e) => e.startsWith('a-')), events.join(' '));
});

test('onJoined reports every join, an empty assignment too (more members than partitions)', T, async () => {
  const topic = await bed.topic('joined', 1);
  const groupId = unique('group');
  const joins: Record<string, number[][]> = { a: [], b: [] };
  const member = async (name: 'a' | 'b') => {
    const consumer = await bed.kafka.consumer({
      groupId,
      topics: [topic],
      maxWaitTimeMs: 100,
      heartbeatIntervalMs: 500,
      onJoined: (assignment) => joins[name]?.push(assignment.map((p) => p.partition)),
    });
    await consumer.run(() => Promise.resolve());
    return consumer;
  };
  const a = await member('a');
  await waitFor('a joined', () => (joins.a?.length ?? 0) > 0);
  const b = await member('b');
  await waitFor('b joined', () => (joins.b?.length ?? 0) > 0);
  await waitFor('a rejoined', () => (joins.a?.length ?? 0) > 1);
  const last = [joins.a?.at(-1), joins.b?.at(-1)];
  assert.deepEqual(last.map((x) => x?.length).sort(), [0, 1], JSON.stringify(joins));
  await b.close();
  await a.close();
});

const sockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

test('lag() after close rejects with ConsumerClosedError and opens nothing; close waits for a lag() racing with it', T, async () => {
  const topic = await bed.topic('lagclose', 2);
  const before = sockets();

  // After close: kafkajs would reconnect the disconnected admin on demand.
  const a = await bed.kafka.consumer({ groupId: unique('group'), topics: [topic] });
  assert.equal((await a.lag()).length, 2);
  await a.close();
  await assert.rejects(a.lag(), ConsumerClosedError);
  await assert.rejects(a.lag(), /consumer closed/);

  // Racing: the first lag() (which connects the admin) is still running when close() starts.
  const b = await bed.kafka.consumer({ groupId: unique('group'), topics: [topic] });
  const racing = b.lag().then(
    (lag) => lag.length,
    (err: unknown) => err,
  );
  await b.close();
  const raced = await racing;
  assert.ok(raced === 2 || raced instanceof ConsumerClosedError, String(raced));
  await assert.rejects(b.lag(), ConsumerClosedError);

  // Nothing either consumer opened outlives its close (sockets close asynchronously: let them).
  await waitFor('sockets closed', () => sockets() <= before, 5_000).catch(() => undefined);
  assert.ok(sockets() <= before, `${sockets()} TCP sockets open, ${before} before: ${process.getActiveResourcesInfo().join(',')}`);
});

test('the lease: a handler longer than the session timeout keeps its member (the adapter heartbeats); a rebalance ends the lease until the next join', { timeout: 120_000 }, async () => {
  const topic = await bed.topic('lease', 1);
  const groupId = unique('group');
  const producer = await bed.kafka.producer();
  await producer.send([{ topic, key: 'k', value: 'v1' }]);
  const lost: string[] = [];
  const revoked: number[] = [];
  let release: () => void = () => undefined;
  const leaseSeen: number[] = [];
  const a = await bed.kafka.consumer({
    groupId,
    topics: [topic],
    maxWaitTimeMs: 100,
    sessionTimeoutMs: 6000,
    heartbeatIntervalMs: 500,
    onLeaseLost: (reason) => lost.push(reason),
    onRevoked: (tps) => (revoked.push(...tps.map((tp) => tp.partition)), Promise.resolve()),
  });
  let batches = 0;
  await a.run(async (batch) => {
    batches++;
    if (batches === 1) {
      // Longer than the session timeout: without heartbeats the broker would evict this member.
      await new Promise((r) => setTimeout(r, 9000));
      leaseSeen.push(a.leaseRemainingMs());
      // Hold the batch until the test has seen the rebalance below end the lease.
      await new Promise<void>((r) => (release = r));
    }
    batch.resolveOffset(batch.lastOffset);
  });
  await waitFor('slow batch past the session timeout', () => leaseSeen.length === 1, 60_000);
  assert.ok((leaseSeen[0] ?? 0) > 0, 'the lease was renewed while the handler ran');
  assert.deepEqual(lost, []);
  assert.deepEqual(revoked, []);
  // A second member joins: a's next heartbeat is answered REBALANCE_IN_PROGRESS, which ends its lease at once.
  const b = await bed.kafka.consumer({ groupId, topics: [topic], maxWaitTimeMs: 100, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 });
  // run() resolves once b joined, which waits for a to rejoin: not awaited before a's batch ends.
  const bRunning = b.run((batch) => {
    batch.resolveOffset(batch.lastOffset);
    return Promise.resolve();
  });
  await waitFor('lease lost', () => lost.length > 0, 30_000);
  assert.equal(a.leaseRemainingMs(), 0);
  release();
  await bRunning;
  await waitFor('a rejoined with a lease', () => a.leaseRemainingMs() > 0, 30_000);
  await Promise.all([a.close(), b.close()]);
  await producer.close();
});
