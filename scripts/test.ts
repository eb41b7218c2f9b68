// The project's test command: provides a real Kafka broker (see libs/kafka/src/testing), then runs
// every package's node:test suites against it on this Node.js (24), and stops the broker afterwards,
// also on failure or interrupt. No broker to be had fails the run: Kafka tests never skip.
import { spawn } from 'node:child_process';
import { startKafka } from '@octi-defender/kafka/testing';
import type { TestKafka } from '@octi-defender/kafka/testing';

const patterns = ['libs/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'scripts/test/**/*.test.ts', 'e2e/test/**/*.test.ts'];
// Extra arguments go to node --test (e.g. --test-name-pattern=…).
const extra = process.argv.slice(2);

function run(env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    // kafkajs 2.2.4 arms a negative timer that Node 24 reports as TimeoutNegativeWarning (harmless:
    // Node uses 1 ms, which is what kafkajs meant).
    const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', '--test', '--test-concurrency=3', ...extra, ...patterns], {
      stdio: 'inherit',
      env,
    });
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

// Until the tests run, a signal ends this process the default way; the broker's supervisor notices
// (its stdin pipe closes) and removes the JVM and its data.
let kafka: TestKafka;
try {
  kafka = await startKafka();
} catch (err) {
  console.error(`kafka: ${err instanceof Error ? err.message : String(err)}`);
  console.error('kafka: no broker, so the tests cannot run (set KAFKA_BROKERS, or install Java 17+ and Maven)');
  process.exit(1);
}
try {
  process.exitCode = await run({ ...process.env, KAFKA_BROKERS: kafka.brokers.join(',') });
} finally {
  await kafka.stop();
}
