// `npm run kafka:up`: a detached local Kafka broker for development (or the KAFKA_BROKERS already
// set), printing `KAFKA_BROKERS=…`; its pid, ports and data dir go to .cache/kafka/run.json.
// `npm run kafka:down`: stops it and removes its data.
import { brokersFromEnv, KAFKA_VERSION } from '@octi-defender/kafka/testing';
import { isBrokerAlive, readRunInfo, RUN_FILE, startDetachedBroker, stopDetachedBroker } from '../libs/kafka/src/testing/local-broker.ts';

async function up(): Promise<void> {
  const fromEnv = brokersFromEnv();
  if (fromEnv) {
    console.error('kafka: KAFKA_BROKERS is set, not starting a broker');
    console.log(`KAFKA_BROKERS=${fromEnv.join(',')}`);
    return;
  }
  const running = readRunInfo();
  if (running && isBrokerAlive(running)) {
    console.error(`kafka: already running (pid ${running.pid}, ${RUN_FILE})`);
    console.log(`KAFKA_BROKERS=${running.brokers.join(',')}`);
    return;
  }
  if (running) await stopDetachedBroker(running);
  const info = await startDetachedBroker();
  console.error(`kafka: local KRaft broker ${KAFKA_VERSION} on ${info.brokers.join(',')}, pid ${info.pid} (log: ${info.logFile}); stop it with npm run kafka:down`);
  console.log(`KAFKA_BROKERS=${info.brokers.join(',')}`);
}

async function down(): Promise<void> {
  const running = readRunInfo();
  if (!running) {
    console.error('kafka: no broker started by kafka:up');
    return;
  }
  await stopDetachedBroker(running);
  console.error(`kafka: stopped pid ${running.pid}, removed ${running.dataDir}`);
}

const command = process.argv[2];
try {
  if (command === 'up') await up();
  else if (command === 'down') await down();
  else {
    console.error('usage: node scripts/kafka.ts up|down');
    process.exitCode = 2;
  }
} catch (err) {
  console.error(`kafka: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
}
