// The ceiling the services' throughputs are divided by: raw kafkajs (no wrapper of ours) on the same
// broker (KAFKA_BROKERS, from `npm run bench`). N records of a command's size (~700 bytes, keyed by
// distinct indicator keys, 6 partitions) produced in transactions of BENCH_TXN_RECORDS (the size of a
// busy listener round), then read back by one eachBatch consumer with read_committed.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { figure, size } from '../../../bench/lib.ts';
import { requireBrokers } from '../src/testing/index.ts';

const N = size('BENCH_CEILING_RECORDS', 50_000, 300_000);
const PER_TXN = size('BENCH_TXN_RECORDS', 1_000, 1_000);
const PARTITIONS = 6;
const BYTES = 700;

const kafka = new Kafka({ brokers: requireBrokers(), clientId: 'ceiling-bench', logLevel: logLevel.NOTHING });
const topic = `bench-ceiling-${randomUUID().slice(0, 8)}`;
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });

const filler = 'x'.repeat(BYTES - 120);
const record = (i: number): { key: string; value: string } => ({
  key: `IpAddress:11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
  value: JSON.stringify({ schemaVersion: 1, op: 'upsert', key: `IpAddress:${i}`, source: { id: `indicator--${i}` }, filler }),
});

const producer = kafka.producer({ transactionalId: `ceiling-${topic}`, idempotent: true, maxInFlightRequests: 1 });
await producer.connect();
const t0 = performance.now();
for (let i = 0; i < N; i += PER_TXN) {
  const messages = [];
  for (let j = i; j < Math.min(N, i + PER_TXN); j++) messages.push(record(j));
  const txn = await producer.transaction();
  await txn.send({ topic, messages });
  await txn.commit();
}
const produceSecs = (performance.now() - t0) / 1000;
await producer.disconnect();

const consumer = kafka.consumer({ groupId: `ceiling-${topic}`, readUncommitted: false });
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
let read = 0;
let first: number | undefined;
const done = new Promise<void>((resolve) => {
  void consumer.run({
    eachBatchAutoResolve: true,
    eachBatch: async ({ batch }) => {
      first ??= performance.now();
      read += batch.messages.length;
      if (read >= N) resolve();
      return Promise.resolve();
    },
  });
});
await done;
const consumeSecs = (performance.now() - (first ?? 0)) / 1000;
await consumer.disconnect();
await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
await admin.disconnect();

const note = `${N.toLocaleString('en-US')} records of ${BYTES} bytes, ${PER_TXN} per transaction, ${PARTITIONS} partitions`;
figure({ section: 'ceiling', name: 'kafkajs transactional produce', value: N / produceSecs, unit: 'records/s', note });
figure({ section: 'ceiling', name: 'kafkajs batch consume (read_committed)', value: N / consumeSecs, unit: 'records/s', note: `from the first batch; ${note}` });
