// Idempotent and transactional producers over kafkajs.
import type { Kafka as KafkaJs, Producer as KjsProducer, ProducerConfig } from 'kafkajs';
import { ProducerFencedError } from '../port.ts';
import type { OutgoingRecord, Producer, PublishAck, Transaction, TransactionalProducer, TransactionalProducerOptions } from '../port.ts';
import { keyPartitioner } from '../partitioner.ts';
import { offsetsByTopic, toAcks, toTopicMessages } from './records.ts';

// acks=all is implied by idempotence; one request in flight keeps ordering across retries (kafkajs
// EOS requirement). The partitioner is kafkajs' v2 default (Java's murmur2, so Java clients agree on
// partitions) with a cheaper murmur2; naming one explicitly also silences kafkajs' partitioner-change warning.
const baseConfig: ProducerConfig = {
  idempotent: true,
  maxInFlightRequests: 1,
  allowAutoTopicCreation: false,
  createPartitioner: keyPartitioner,
};

const ACKS_ALL = -1;

/**
 * Bytes of keys and values per produce request. kafkajs puts a request's records for one partition
 * into one record batch, and the broker refuses a batch above message.max.bytes (1 MiB by default).
 */
const MAX_REQUEST_BYTES = 512 * 1024;

const sizeOf = (v: string | Buffer | null): number => (v === null ? 0 : typeof v === 'string' ? Buffer.byteLength(v) : v.length);

/** Consecutive slices of at most `maxBytes` (a larger single record gets a slice of its own). */
function sliceByBytes(records: readonly OutgoingRecord[], maxBytes = MAX_REQUEST_BYTES): OutgoingRecord[][] {
  const out: OutgoingRecord[][] = [];
  let current: OutgoingRecord[] = [];
  let bytes = 0;
  for (const r of records) {
    const size = sizeOf(r.key) + sizeOf(r.value) + 64;
    if (current.length > 0 && bytes + size > maxBytes) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += size;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** Sends in slices, one after the other: order per partition holds (one request in flight). */
async function send(p: Pick<KjsProducer, 'sendBatch'>, records: readonly OutgoingRecord[]): Promise<PublishAck[]> {
  const acks: PublishAck[] = [];
  for (const slice of sliceByBytes(records)) acks.push(...toAcks(await p.sendBatch({ acks: ACKS_ALL, topicMessages: toTopicMessages(slice) })));
  return acks;
}

export async function createProducer(kafka: KafkaJs): Promise<Producer> {
  const p = kafka.producer(baseConfig);
  await p.connect();
  return { send: (records) => send(p, records), close: () => p.disconnect() };
}

const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);
const FENCED_CODES = new Set([47, 90]);

/** kafkajs wraps the broker's fencing error in retry errors: look through the causes. */
function isFenced(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    const { type, code } = e as { type?: unknown; code?: unknown };
    if ((typeof type === 'string' && FENCED.has(type)) || (typeof code === 'number' && FENCED_CODES.has(code))) return true;
  }
  return false;
}

export async function createTransactionalProducer(kafka: KafkaJs, transactionalId: string, options: TransactionalProducerOptions = {}): Promise<TransactionalProducer> {
  const config: ProducerConfig = { ...baseConfig, transactionalId, transactionTimeout: options.transactionTimeoutMs ?? 60_000 };
  const fenced = (err: unknown): Error => (isFenced(err) ? new ProducerFencedError(transactionalId, { cause: err }) : (err as Error));
  // kafkajs registers the transactionalId (InitProducerId, which bumps the epoch and so fences older
  // producers) lazily at the first transaction: open and abort an empty one to do it now. The abort
  // of a transaction without partitions stays client-side.
  const open = async (): Promise<KjsProducer> => {
    const producer = kafka.producer(config);
    try {
      await producer.connect();
      await (await producer.transaction()).abort();
    } catch (err) {
      await producer.disconnect().catch(() => undefined);
      throw fenced(err);
    }
    return producer;
  };
  let p: KjsProducer | undefined = await open();
  // A commit or abort that failed (e.g. the broker died meanwhile) leaves kafkajs' transaction state
  // machine in COMMITTING or ABORTING for good: every later transaction would fail. The producer is
  // replaced by a new one with the same transactionalId, whose InitProducerId makes the coordinator
  // finish or abort the transaction in doubt first, so the next transaction starts clean.
  const discard = async (): Promise<void> => {
    const old = p;
    p = undefined;
    await old?.disconnect().catch(() => undefined);
  };
  // kafkajs allows one open transaction per producer: run them one after the other.
  let queue: Promise<unknown> = Promise.resolve();
  const transaction = <T>(work: (tx: Transaction) => Promise<T>): Promise<T> => {
    const run = async (): Promise<T> => {
      p ??= await open();
      let tx;
      try {
        tx = await p.transaction();
      } catch (err) {
        if (!isFenced(err)) await discard();
        throw fenced(err);
      }
      let result: T;
      try {
        result = await work({
          send: (records) => send(tx, records),
          sendOffsets: (groupId, offsets) => tx.sendOffsets({ consumerGroupId: groupId, topics: offsetsByTopic(offsets) }),
        });
      } catch (err) {
        // A fenced producer cannot abort; the broker aborts its transaction.
        if (!isFenced(err) && tx.isActive()) await tx.abort().catch(discard);
        throw fenced(err);
      }
      try {
        await tx.commit();
      } catch (err) {
        if (!isFenced(err)) await discard();
        throw fenced(err);
      }
      return result;
    };
    const next = queue.then(run, run);
    queue = next.catch(() => undefined);
    return next;
  };
  return { transactionalId, transaction, close: () => discard() };
}
