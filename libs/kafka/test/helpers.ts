// Shared by the integration tests: a real broker from KAFKA_BROKERS (the test fails without one),
// unique names per test so files run in parallel, and small waiting helpers.
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createKafka } from '../src/index.ts';
import type { Admin, Kafka } from '../src/index.ts';
import { requireBrokers } from '../src/testing/index.ts';

export const unique = (prefix: string): string => `test.${prefix}.${randomUUID().slice(0, 8)}`;

export interface TestBed {
  readonly kafka: Kafka;
  readonly admin: Admin;
  topic(prefix: string, partitions: number, config?: Record<string, string>): Promise<string>;
  close(): Promise<void>;
}

export async function testBed(): Promise<TestBed> {
  const kafka = createKafka({ brokers: requireBrokers(), clientId: unique('client') });
  const admin = await kafka.admin();
  const created: string[] = [];
  return {
    kafka,
    admin,
    async topic(prefix, partitions, config = {}) {
      const name = unique(prefix);
      await admin.createTopics([{ name, partitions, replicationFactor: 1, config }]);
      created.push(name);
      return name;
    },
    async close() {
      await admin.deleteTopics(created).catch(() => undefined);
      await kafka.close();
    },
  };
}

export async function waitFor(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
