// A real Kafka broker for tests and local runs: KAFKA_BROKERS when set, else the apache/kafka image
// through testcontainers when a Docker engine answers, else a local KRaft broker from the official
// jars. Exported as `@octi-defender/kafka/testing`.
import { probeDocker, startContainerBroker } from './container-broker.ts';
import { say, startLocalBroker } from './local-broker.ts';

export { KAFKA_VERSION } from './broker-config.ts';
export { freePort, startRestartableBroker } from './local-broker.ts';
export type { RestartableBroker } from './local-broker.ts';

export interface TestKafka {
  readonly brokers: string[];
  readonly source: 'env' | 'testcontainers' | 'local';
  /** Stops the broker this call started (nothing for `env`) and removes its data. */
  stop(): Promise<void>;
}

export function brokersFromEnv(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const brokers = (env.KAFKA_BROKERS ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  return brokers.length > 0 ? brokers : undefined;
}

export async function startKafka(): Promise<TestKafka> {
  const fromEnv = brokersFromEnv();
  if (fromEnv) {
    say(`using KAFKA_BROKERS=${fromEnv.join(',')}`);
    return { brokers: fromEnv, source: 'env', stop: () => Promise.resolve() };
  }
  const dockerHost = await probeDocker();
  if (dockerHost !== undefined) {
    const b = await startContainerBroker(dockerHost);
    return { brokers: b.brokers, source: 'testcontainers', stop: () => b.stop() };
  }
  const b = await startLocalBroker();
  return { brokers: b.brokers, source: 'local', stop: () => b.stop() };
}

/** For test files: the brokers from KAFKA_BROKERS, or an error (tests needing Kafka fail, never skip). */
export function requireBrokers(): string[] {
  const brokers = brokersFromEnv();
  if (!brokers) throw new Error('KAFKA_BROKERS is not set: run the tests with `npm test` (it provides a broker) or start one with `npm run kafka:up`');
  return brokers;
}
