// `npm run bench`: runs every `*.bench.ts` beside the code it measures, one at a time, with a real
// Kafka broker available as KAFKA_BROKERS (as in the tests). Figures go to stdout; nothing asserts.
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import { startKafka } from '@octi-defender/kafka/testing';

const only = process.argv[2];
const files = globSync(['libs/*/bench/*.bench.ts', 'services/*/bench/*.bench.ts'])
  .filter((f) => !only || f.includes(only))
  .sort();
const kafka = await startKafka();
let failed = 0;
try {
  for (const file of files) {
    console.log(`\n# ${file}`);
    const r = spawnSync(process.execPath, ['--disable-warning=TimeoutNegativeWarning', file], {
      stdio: 'inherit',
      env: { ...process.env, KAFKA_BROKERS: kafka.brokers.join(',') },
    });
    if (r.status !== 0) failed++;
  }
} finally {
  await kafka.stop();
}
process.exitCode = failed > 0 ? 1 : 0;
