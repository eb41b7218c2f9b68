// Admin and compacted reads through the kafkajs adapter against the real broker from KAFKA_BROKERS.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { topicDefinitions } from '../src/index.ts';
import { testBed, unique } from './helpers.ts';
import type { TestBed } from './helpers.ts';

let bed: TestBed;
before(async () => {
  bed = await testBed();
});
after(() => bed.close());

const T = { timeout: 90_000 };

test('createTopics is idempotent and creates the project topics as defined', T, async () => {
  const p = unique('proj');
  const defs = topicDefinitions(
    {
      commandsTopic: `${p}.commands`,
      commandsPartitions: 4,
      checkpointsTopic: `${p}.checkpoints`,
      dlqTopic: `${p}.dlq`,
      controlTopic: `${p}.control`,
      statusTopic: `${p}.status`,
      stateTopicTemplate: `${p}.{tenant}.state`,
      replicationFactor: 1,
    },
    ['tenant1'],
  );
  const names = defs.map((d) => d.name);
  try {
    assert.deepEqual((await bed.admin.createTopics(defs)).sort(), [...names].sort());
    assert.deepEqual(await bed.admin.createTopics(defs), []);
    const described = await bed.admin.describeTopics(names);
    assert.deepEqual(
      described.map((t) => [t.name, t.partitions]).sort(),
      defs.map((d) => [d.name, d.partitions]).sort(),
    );
    assert.ok(names.every((n) => described.some((t) => t.name === n)));
    const all = await bed.admin.listTopics();
    assert.ok(names.every((n) => all.includes(n)));
  } finally {
    await bed.admin.deleteTopics(names);
  }
});

test('createTopics with the broker default replication factor', T, async () => {
  const name = unique('rf-default');
  try {
    assert.deepEqual(await bed.admin.createTopics([{ name, partitions: 2, config: { 'cleanup.policy': 'compact' } }]), [name]);
    assert.deepEqual(await bed.admin.describeTopics([name]), [{ name, partitions: 2 }]);
  } finally {
    await bed.admin.deleteTopics([name]);
  }
});

test('readCompacted returns the latest value per key, without tombstoned keys', T, async () => {
  const topic = await bed.topic('compacted', 3, { 'cleanup.policy': 'compact' });
  const producer = await bed.kafka.producer();
  await producer.send([
    { topic, key: 'k1', value: 'v1' },
    { topic, key: 'k2', value: 'v1', headers: { h: 'x' } },
    { topic, key: 'k3', value: 'v1' },
  ]);
  await producer.send([
    { topic, key: 'k1', value: 'v2' },
    { topic, key: 'k3', value: null },
  ]);
  const all = await bed.kafka.readCompacted(topic);
  assert.deepEqual(
    [...all].map(([k, v]) => [k, v.value.toString()]).sort(),
    [
      ['k1', 'v2'],
      ['k2', 'v1'],
    ],
  );
  assert.equal(all.get('k2')?.headers.h?.toString(), 'x');

  // Only some partitions (the writer restoring the partitions it was just assigned).
  const k1 = all.get('k1');
  assert.ok(k1);
  const only = await bed.kafka.readCompacted(topic, { partitions: [k1.partition] });
  assert.equal(only.get('k1')?.value.toString(), 'v2');
  assert.ok([...only.values()].every((v) => v.partition === k1.partition));

  const empty = await bed.topic('compacted-empty', 2, { 'cleanup.policy': 'compact' });
  assert.equal((await bed.kafka.readCompacted(empty)).size, 0);
  await assert.rejects(bed.kafka.readCompacted(topic, { partitions: [7] }), /has no partition 7/);
});

test('scanCompacted visits every record of a key in offset order, tombstones included, without holding them', T, async () => {
  const topic = await bed.topic('scanned', 2, { 'cleanup.policy': 'compact' });
  const producer = await bed.kafka.producer();
  await producer.send([{ topic, key: 'a', value: '1' }]);
  await producer.send([{ topic, key: 'a', value: '2' }]);
  await producer.send([{ topic, key: 'a', value: null }]);
  await producer.send([{ topic, key: 'b', value: 'x' }]);
  const seen: string[] = [];
  await bed.kafka.scanCompacted(topic, (key, r) => seen.push(`${key}=${r.value === null ? '∅' : r.value.toString()}@${r.offset}`));
  assert.deepEqual(seen.filter((x) => x.startsWith('a=')).map((x) => x.split('@')[0]), ['a=1', 'a=2', 'a=∅']);
  assert.deepEqual(seen.filter((x) => x.startsWith('b=')).map((x) => x.split('@')[0]), ['b=x']);
  const offsets = seen.filter((x) => x.startsWith('a=')).map((x) => BigInt(x.split('@')[1] ?? '-1'));
  assert.deepEqual(offsets, [...offsets].sort((x, y) => (x < y ? -1 : 1)));
});

test('groupLag and describeGroup: the committed offsets of a group against the end, its members and their partitions', T, async () => {
  const topic = await bed.topic('lag', 2);
  const groupId = unique('group');
  const producer = await bed.kafka.producer();
  await producer.send([0, 1, 2, 3, 4].map((i) => ({ topic, key: `k${i}`, value: 'v' })));
  await producer.close();
  const before = await bed.admin.groupLag(groupId, topic);
  assert.deepEqual(before.map((p) => [p.partition, p.committed, p.lag]).sort(), before.map((p) => [p.partition, null, p.end]).sort());
  assert.equal(before.reduce((a, p) => a + p.lag, 0n), 5n);
  assert.deepEqual((await bed.admin.describeGroup(groupId)).members, []);
  const consumer = await bed.kafka.consumer({ groupId, topics: [topic], sessionTimeoutMs: 6000 });
  try {
    let seen = 0;
    await consumer.run(async (batch) => {
      seen += batch.records.length;
      await consumer.commit([{ topic, partition: batch.partition, offset: batch.lastOffset + 1n }]);
    });
    const deadline = Date.now() + 60_000;
    while ((seen < 5 || (await bed.admin.groupLag(groupId, topic)).some((p) => p.lag > 0n)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    const lag = await bed.admin.groupLag(groupId, topic);
    assert.deepEqual(lag.map((p) => p.lag), [0n, 0n]);
    const group = await bed.admin.describeGroup(groupId);
    assert.equal(group.state, 'Stable');
    assert.equal(group.members.length, 1);
    assert.deepEqual(group.members[0]?.assignment.map((a) => [a.topic, a.partition]).sort(), [[topic, 0], [topic, 1]]);
  } finally {
    await consumer.close();
  }
});
