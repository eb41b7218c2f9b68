// Builds the kafkajs-backed port from the services' common Kafka settings (libs/platform kafkaEnv).
import { readFileSync } from 'node:fs';
import { createKafka } from './kafkajs/index.ts';
import type { Kafka, KafkaLogger, Producer } from './port.ts';
import { topicDefinitions, type ProjectTopic } from './topics.ts';

interface KafkaSettings {
  readonly kafkaBrokers: readonly string[];
  readonly kafkaClientId?: string | undefined;
  readonly kafkaSsl: boolean;
  readonly kafkaSslCaFile?: string | undefined;
  readonly kafkaSaslMechanism?: 'plain' | 'scram-sha-256' | 'scram-sha-512' | undefined;
  readonly kafkaSaslUsername?: string | undefined;
  readonly kafkaSaslPassword?: string | undefined;
}

/** Client settings a short-lived tool tunes (e.g. the command line gives up sooner than a service). */
interface KafkaTuning {
  readonly retries?: number;
  readonly connectionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
}

export function connectKafka(settings: KafkaSettings, defaultClientId: string, logger?: KafkaLogger, tuning: KafkaTuning = {}): Kafka {
  const { kafkaSaslMechanism: mechanism, kafkaSaslUsername: username, kafkaSaslPassword: password } = settings;
  if (mechanism && (!username || !password)) {
    throw new Error('KAFKA_SASL_MECHANISM is set: KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required too');
  }
  // TLS always verifies the brokers' certificates; a private CA is added, never verification removed.
  const ssl = settings.kafkaSsl
    ? { rejectUnauthorized: true, ...(settings.kafkaSslCaFile ? { ca: [readFileSync(settings.kafkaSslCaFile, 'utf8')] } : {}) }
    : undefined;
  return createKafka({
    brokers: settings.kafkaBrokers,
    clientId: settings.kafkaClientId ?? defaultClientId,
    ...(logger ? { logger } : {}),
    ...tuning,
    ...(ssl ? { ssl } : {}),
    ...(mechanism && username && password ? { sasl: { mechanism, username, password } } : {}),
  });
}

/**
 * When `err` (what a service's start threw) means no broker could be reached, the message an operator
 * needs: which brokers and which variable to fix. Otherwise undefined.
 */
export function unreachableKafka(err: unknown, settings: Pick<KafkaSettings, 'kafkaBrokers' | 'kafkaSsl'>): string | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e.name === 'KafkaJSConnectionError') {
      return `Kafka is unreachable at ${settings.kafkaBrokers.join(',')} (${e.message}): check KAFKA_BROKERS${settings.kafkaSsl ? ' and KAFKA_SSL' : ''}`;
    }
  }
  return undefined;
}

/**
 * A status sink (libs/platform status publisher) writing to the project's status topic with an
 * idempotent producer opened on first use, after creating the topic if missing (compacted, as
 * topics.ts defines it; a broker that auto-creates topics would otherwise make a plain one).
 */
export function kafkaStatusSink(
  kafka: Kafka,
  topic: ProjectTopic | undefined = topicDefinitions().find((t) => t.role === 'status'),
): { send(key: string, value: string | null): Promise<void>; close(): Promise<void> } {
  if (!topic) throw new Error('topics.ts defines no status topic');
  // The publisher sends one record at a time, so a plain variable suffices.
  let producer: Producer | undefined;
  const open = async (): Promise<Producer> => {
    const admin = await kafka.admin();
    try {
      await admin.createTopics([topic]);
    } catch {
      // Not allowed to create topics: it is managed elsewhere (the kafka-topics Job).
    } finally {
      await admin.close();
    }
    return kafka.producer();
  };
  return {
    async send(key, value) {
      producer ??= await open();
      await producer.send([{ topic: topic.name, key, value }]);
    },
    async close() {
      await producer?.close();
    },
  };
}
