// Shared fixtures of the listener's integration tests: a real Kafka broker (KAFKA_BROKERS), the
// OpenCTI emulator over real HTTP, and readers of what the listener published.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { OCTI_EXT, TLP_MARKINGS, type StixObject } from '@octi-defender/emulators';
import { decodeCommand, type Command } from '@octi-defender/indicators';
import { createKafka, type Kafka } from '@octi-defender/kafka';
import { requireBrokers } from '@octi-defender/kafka/testing';
import { createLogger, createRegistry, type Logger } from '@octi-defender/platform';
import { loadListenerConfig, type ListenerConfig } from '../src/config.ts';
import { Listener } from '../src/listener.ts';
import { createListenerMetrics, type ListenerMetrics } from '../src/metrics.ts';

export const TOKEN = 'opencti-test-token-0123456789';

export function quietLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { logger: createLogger({ name: 'test', level: 'debug', destination, secrets: [TOKEN] }), lines };
}

export function uniqueTopics(): { commands: string; checkpoints: string; dlq: string; group: string } {
  const s = randomUUID().slice(0, 8);
  return { commands: `t-${s}.indicators`, checkpoints: `t-${s}.checkpoints`, dlq: `t-${s}.dlq`, group: `listener-${s}` };
}

export function listenerConfig(openctiUrl: string, streamIds: string[], topics: ReturnType<typeof uniqueTopics>, extra: Record<string, string> = {}): ListenerConfig {
  return loadListenerConfig({
    KAFKA_BROKERS: requireBrokers().join(','),
    OPENCTI_URL: openctiUrl,
    OPENCTI_TOKEN: TOKEN,
    CONNECTOR_LIVE_STREAM_ID: streamIds.join(','),
    KAFKA_TOPIC_COMMANDS: topics.commands,
    KAFKA_TOPIC_CHECKPOINTS: topics.checkpoints,
    KAFKA_TOPIC_DLQ: topics.dlq,
    LISTENER_GROUP_ID: topics.group,
    LISTENER_LEASE_TIMEOUT_MS: '6000',
    LISTENER_RECONNECT_MIN_MS: '50',
    LISTENER_RECONNECT_MAX_MS: '500',
    LISTENER_CONFIG_ERROR_RETRY_MS: '1000',
    ...extra,
  });
}

export function testKafka(clientId = 'listener-test'): Kafka {
  return createKafka({ brokers: requireBrokers(), clientId });
}

export interface Harness {
  readonly listener: Listener;
  readonly metrics: ListenerMetrics;
  readonly kafka: Kafka;
  readonly lines: string[];
  close(): Promise<void>;
}

export function startListener(cfg: ListenerConfig): Harness {
  const kafka = testKafka(`listener-${randomUUID().slice(0, 6)}`);
  const { logger, lines } = quietLogger();
  const metrics = createListenerMetrics(createRegistry({ prefix: `t${randomUUID().slice(0, 6)}` }));
  const listener = new Listener(cfg, { kafka, logger, metrics });
  return {
    listener,
    metrics,
    kafka,
    lines,
    close: async () => {
      await listener.close();
      await kafka.close();
    },
  };
}

export async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface Published {
  readonly partition: number;
  readonly offset: bigint;
  readonly key: string | null;
  readonly value: string;
}

/** Reads a topic from the beginning with its own group, accumulating every committed record. */
export async function tail(kafka: Kafka, topic: string): Promise<{ records: Published[]; commands(): Command[]; close(): Promise<void> }> {
  const records: Published[] = [];
  const consumer = await kafka.consumer({ groupId: `reader-${randomUUID()}`, topics: [topic], fromBeginning: true, maxWaitTimeMs: 100 });
  await consumer.run(async (batch) => {
    for (const r of batch.records) {
      records.push({ partition: r.partition, offset: r.offset, key: r.key, value: r.value?.toString('utf8') ?? '' });
      batch.resolveOffset(r.offset);
    }
    return Promise.resolve();
  });
  return {
    records,
    commands: () =>
      records.map((r) => {
        const d = decodeCommand(Buffer.from(r.value));
        if (!d.ok) throw new Error(`bad command on ${topic}: ${d.error.message}`);
        return d.value;
      }),
    close: () => consumer.close(),
  };
}

/** An indicator every default writer policy sends: detection on, TLP:GREEN, not revoked, valid for a year, score 80. */
export function eligible(o: StixObject): StixObject {
  const ext = (o.extensions as Record<string, Record<string, unknown>>)[OCTI_EXT]!;
  return {
    ...o,
    revoked: false,
    object_marking_refs: [TLP_MARKINGS['TLP:GREEN']],
    valid_until: new Date(Date.now() + 365 * 86_400_000).toISOString(),
    extensions: { ...(o.extensions as object), [OCTI_EXT]: { ...ext, score: 80, detection: true } },
  };
}
