// Topic creation while the KRaft broker is fenced: kafkajs' own error shapes, a scripted admin (the
// real broker cannot be fenced on demand; a loaded one was, once in 635 runs of npm test).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Kafka as KafkaJs } from 'kafkajs';
import { createAdmin } from '../src/kafkajs/admin.ts';

/** kafkajs' KafkaJSAggregateError of KafkaJSCreateTopicError, as its createTopics throws them. */
function aggregate(type: string, message: string): Error {
  const inner = Object.assign(new Error(message), { name: 'KafkaJSCreateTopicError', type, topic: 't' });
  return Object.assign(new Error('Topic creation errors'), { name: 'KafkaJSAggregateError', errors: [inner] });
}

function scripted(answers: (Error | undefined)[]): { kafka: Pick<KafkaJs, 'admin'>; creates: () => number } {
  const topics = new Set<string>();
  let creates = 0;
  const admin = {
    connect: async () => {},
    disconnect: async () => {},
    listTopics: () => Promise.resolve([...topics]),
    createTopics: ({ topics: wanted }: { topics: { topic: string }[] }) => {
      const answer = answers[creates++];
      if (answer) return Promise.reject(answer);
      for (const t of wanted) topics.add(t.topic);
      return Promise.resolve(true);
    },
    fetchTopicMetadata: ({ topics: names }: { topics: string[] }) => Promise.resolve({ topics: names.map((name) => ({ name, partitions: [{ partitionId: 0, leader: 1 }] })) }),
  };
  return { kafka: { admin: () => admin } as unknown as Pick<KafkaJs, 'admin'>, creates: () => creates };
}

const def = [{ name: 't', partitions: 1, config: {}, role: 'commands' as const }];

test('a create refused while the broker is fenced (INVALID_REPLICATION_FACTOR) is retried until it passes', async () => {
  const fenced = aggregate('INVALID_REPLICATION_FACTOR', 'Replication-factor is invalid');
  const s = scripted([fenced, fenced, undefined]);
  const admin = await createAdmin(s.kafka, { fencedRetryMs: 5000 });
  assert.deepEqual(await admin.createTopics(def), ['t']);
  assert.equal(s.creates(), 3);
});

test('a broker fenced for longer than the bound: the refusal is thrown', async () => {
  const fenced = aggregate('INVALID_REPLICATION_FACTOR', 'Replication-factor is invalid');
  const s = scripted(Array.from({ length: 100 }, () => fenced));
  const admin = await createAdmin(s.kafka, { fencedRetryMs: 250 });
  await assert.rejects(admin.createTopics(def), /Topic creation errors/);
  assert.ok(s.creates() >= 2 && s.creates() < 10);
});

test('any other refusal is thrown at once', async () => {
  const s = scripted([aggregate('INVALID_CONFIG', 'Invalid value for cleanup.policy'), undefined]);
  const admin = await createAdmin(s.kafka, { fencedRetryMs: 5000 });
  await assert.rejects(admin.createTopics(def), /Topic creation errors/);
  assert.equal(s.creates(), 1);
});
