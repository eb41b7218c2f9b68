// The kafkajs adapter of the Kafka port (libs/kafka/src/port.ts).
import './timer-warning.ts';
import type { ConnectionOptions } from 'node:tls';
import { Kafka as KafkaJs, logLevel } from 'kafkajs';
import type { SASLOptions } from 'kafkajs';
import type { Kafka, KafkaLogger } from '../port.ts';
import { createAdmin } from './admin.ts';
import { readCompacted, scanCompacted } from './compacted.ts';
import { createConsumer } from './consumer.ts';
import { toLogCreator } from './logging.ts';
import { createProducer, createTransactionalProducer } from './producer.ts';

interface KafkajsConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** Receives kafkajs' own logs; none when absent. */
  readonly logger?: KafkaLogger;
  readonly ssl?: boolean | ConnectionOptions;
  readonly sasl?: { readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; readonly username: string; readonly password: string };
  readonly connectionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  /** Retries of a failed request or connection (kafkajs' default, 5, when absent). */
  readonly retries?: number;
}

export function createKafka(config: KafkajsConfig): Kafka {
  const kafka = new KafkaJs({
    clientId: config.clientId,
    brokers: [...config.brokers],
    ...(config.ssl === undefined ? {} : { ssl: config.ssl }),
    ...(config.sasl ? { sasl: { ...config.sasl } as SASLOptions } : {}),
    connectionTimeout: config.connectionTimeoutMs ?? 3000,
    requestTimeout: config.requestTimeoutMs ?? 30_000,
    ...(config.retries === undefined ? {} : { retry: { retries: config.retries } }),
    logLevel: config.logger ? logLevel.INFO : logLevel.NOTHING,
    ...(config.logger ? { logCreator: toLogCreator(config.logger) } : {}),
  });
  const open = new Set<{ close(): Promise<void> }>();
  const track = <T extends { close(): Promise<void> }>(x: T): T => {
    const close = x.close.bind(x);
    const tracked = Object.assign(x, {
      close: async () => {
        open.delete(tracked);
        await close();
      },
    });
    open.add(tracked);
    return tracked;
  };
  return {
    producer: async () => track(await createProducer(kafka)),
    transactionalProducer: async (id, options) => track(await createTransactionalProducer(kafka, id, options)),
    consumer: async (options) => track(await createConsumer(kafka, options, config.logger)),
    admin: async () => track(await createAdmin(kafka)),
    readCompacted: (topic, options) => readCompacted(kafka, config.clientId, topic, options),
    scanCompacted: (topic, visit, options) => scanCompacted(kafka, config.clientId, topic, visit, options),
    async close() {
      await Promise.allSettled([...open].map((x) => x.close()));
    },
  };
}
