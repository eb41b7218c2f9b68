// Readiness = the broker answers a real Metadata request listing itself and an active controller
// (an open port is not enough).
import '../kafkajs/timer-warning.ts';
import { Kafka, logLevel } from 'kafkajs';
import { setTimeout as sleep } from 'node:timers/promises';

export async function waitForBroker(brokers: string[], timeoutMs: number, died?: Promise<Error>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let dead: Error | undefined;
  void died?.then((e) => (dead = e));
  const admin = new Kafka({ clientId: 'kafka-ready-probe', brokers, logLevel: logLevel.NOTHING, connectionTimeout: 1000, retry: { retries: 0 } }).admin();
  let last: unknown;
  try {
    while (Date.now() < deadline) {
      if (dead) throw dead;
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        if (cluster.brokers.length > 0 && cluster.controller !== null) return;
      } catch (err) {
        last = err;
        await admin.disconnect().catch(() => undefined);
      }
      await sleep(250);
    }
    if (dead) throw dead;
    throw new Error(`Kafka broker ${brokers.join(',')} not ready after ${timeoutMs / 1000} s: ${String(last)}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
