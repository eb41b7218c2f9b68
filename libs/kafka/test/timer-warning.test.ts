// kafkajs' negative timer must not reach users as a TimeoutNegativeWarning; other warnings still do.
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';

test('loading the Kafka adapter silences TimeoutNegativeWarning only', () => {
  const script = `
    await import(${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)});
    setTimeout(() => {}, -1);
    process.emitWarning('still shown', 'OtherWarning');
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /TimeoutNegativeWarning/);
  assert.match(r.stderr, /OtherWarning: still shown/);
});
