// The project's test command: provides a real Kafka broker (see libs/kafka/src/testing), then runs
// every package's node:test suites against it on this Node.js (24), and stops the broker afterwards,
// also on failure or interrupt.
import { spawn } from 'node:child_process';

const patterns = ['libs/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'scripts/test/**/*.test.ts'];
const extra = process.argv.slice(2);

function run(env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--test', '--test-concurrency=3', ...extra, ...patterns], {
      stdio: 'inherit',
      env,
    });
    const forward = (signal: NodeJS.Signals): void => {
      child.kill(signal);
    };
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

const code = await run({ ...process.env });
process.exitCode = code;
