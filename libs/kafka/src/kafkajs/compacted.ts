// Latest value per key of a compacted topic. kafkajs has no manual partition assignment, so a
// throwaway group whose assigner hands exactly the wanted partitions to its only member reads them;
// it never commits, and the broker drops the empty group.
import { randomUUID } from 'node:crypto';
import { AssignerProtocol } from 'kafkajs';
import type { Kafka as KafkaJs, PartitionAssigner } from 'kafkajs';
import type { CompactedRecord, CompactedValue, ReadCompactedOptions } from '../port.ts';
import { toHeaders } from './records.ts';
import { withRetries } from './retry.ts';

function onlyPartitions(topic: string, partitions: number[]): PartitionAssigner {
  const name = 'OnlyPartitions';
  return () => ({
    name,
    version: 1,
    assign: ({ members }) =>
      Promise.resolve(
        members.map((m, i) => ({
          memberId: m.memberId,
          memberAssignment: AssignerProtocol.MemberAssignment.encode({
            version: 1,
            assignment: i === 0 ? { [topic]: partitions } : {},
            userData: Buffer.alloc(0),
          }),
        })),
      ),
    protocol: ({ topics }) => ({ name, metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }) }),
  });
}

export async function readCompacted(kafka: KafkaJs, clientId: string, topic: string, options: ReadCompactedOptions = {}): Promise<Map<string, CompactedValue>> {
  const result = new Map<string, CompactedValue>();
  await scanCompacted(
    kafka,
    clientId,
    topic,
    (key, r) => {
      if (r.value === null) result.delete(key);
      else result.set(key, { ...r, value: r.value });
    },
    options,
  );
  return result;
}

export async function scanCompacted(kafka: KafkaJs, clientId: string, topic: string, visit: (key: string, record: CompactedRecord) => void, options: ReadCompactedOptions = {}): Promise<void> { // End offsets first (last stable offsets: committed data only): the snapshot stops there.
  const admin = kafka.admin();
  await admin.connect();
  let offsets;
  try {
    offsets = await withRetries(() => admin.fetchTopicOffsets(topic));
  } finally {
    await admin.disconnect();
  }
  const ends = new Map<number, bigint>();
  for (const partition of options.partitions ?? offsets.map((o) => o.partition)) {
    const o = offsets.find((x) => x.partition === partition);
    if (!o) throw new Error(`topic ${topic} has no partition ${partition}`);
    if (BigInt(o.high) > BigInt(o.low)) ends.set(partition, BigInt(o.high));
  }
  if (ends.size === 0) return;

  const consumer = kafka.consumer({
    groupId: `${clientId}.read-compacted.${randomUUID()}`,
    partitionAssigners: [onlyPartitions(topic, [...ends.keys()])],
    readUncommitted: false,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 500,
  });
  const pending = new Set(ends.keys());
  try {
    await new Promise<void>((resolve, reject) => {
      // Progress comes from batch-end events: they also cover batches that held only transaction
      // markers or aborted records, which never reach eachBatch.
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        const end = ends.get(payload.partition);
        if (payload.topic === topic && end !== undefined && BigInt(payload.lastOffset) + 1n >= end) {
          pending.delete(payload.partition);
          if (pending.size === 0) resolve();
        }
      });
      // kafkajs restarts after retriable failures (e.g. the group coordinator still loading).
      let crashes = 0;
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (!payload.restart || ++crashes > 5) reject(payload.error);
      });
      const start = async (): Promise<void> => {
        await consumer.connect();
        await consumer.subscribe({ topics: [topic], fromBeginning: true });
        await consumer.run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const end = ends.get(batch.partition);
            if (end === undefined) return;
            for (const m of batch.messages) {
              const offset = BigInt(m.offset);
              if (offset >= end || m.key === null) continue;
              visit(m.key.toString('utf8'), { topic, partition: batch.partition, offset, value: m.value, headers: toHeaders(m.headers) });
            }
            return Promise.resolve();
          },
        });
      };
      start().catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}
