// Conversions between the port's records and kafkajs messages.
import type { IHeaders, KafkaMessage, Message, RecordMetadata } from 'kafkajs';
import type { IncomingRecord, OutgoingRecord, PublishAck, TopicPartition, TopicPartitionOffset } from '../port.ts';

function toMessage(r: OutgoingRecord): Message {
  return { key: r.key, value: r.value, ...(r.headers ? { headers: { ...r.headers } } : {}) };
}

/** The port's records grouped by topic, kafkajs sendBatch style. */
export function toTopicMessages(records: readonly OutgoingRecord[]): Array<{ topic: string; messages: Message[] }> {
  const byTopic = new Map<string, Message[]>();
  for (const r of records) {
    let messages = byTopic.get(r.topic);
    if (!messages) byTopic.set(r.topic, messages = []);
    messages.push(toMessage(r));
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
}

export function toAcks(meta: readonly RecordMetadata[]): PublishAck[] {
  return meta.map((m) => ({ topic: m.topicName, partition: m.partition, baseOffset: BigInt(m.baseOffset ?? '-1') }));
}

export function toHeaders(headers: IHeaders | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    // A repeated header keeps its last value.
    const v = Array.isArray(value) ? value.at(-1) : value;
    if (v !== undefined) out[name] = Buffer.isBuffer(v) ? v : Buffer.from(v);
  }
  return out;
}

export function toIncoming(topic: string, partition: number, m: KafkaMessage): IncomingRecord {
  return {
    topic,
    partition,
    offset: BigInt(m.offset),
    key: m.key === null ? null : m.key.toString('utf8'),
    value: m.value,
    headers: toHeaders(m.headers),
    timestamp: Number(m.timestamp),
  };
}

/** `[{topic, partitions:[…]}]` (kafkajs pause/resume) from a flat partition list. */
export function byTopic(partitions: readonly TopicPartition[]): Array<{ topic: string; partitions: number[] }> {
  const m = new Map<string, number[]>();
  for (const { topic, partition } of partitions) {
    let ps = m.get(topic);
    if (!ps) m.set(topic, ps = []);
    ps.push(partition);
  }
  return [...m].map(([topic, ps]) => ({ topic, partitions: ps }));
}

export function offsetsByTopic(offsets: readonly TopicPartitionOffset[]): Array<{ topic: string; partitions: Array<{ partition: number; offset: string }> }> {
  const m = new Map<string, Array<{ partition: number; offset: string }>>();
  for (const { topic, partition, offset } of offsets) {
    let ps = m.get(topic);
    if (!ps) m.set(topic, ps = []);
    ps.push({ partition, offset: offset.toString() });
  }
  return [...m].map(([topic, partitions]) => ({ topic, partitions }));
}

export const tpKey = (tp: TopicPartition): string => `${tp.topic}\u0000${tp.partition}`;
