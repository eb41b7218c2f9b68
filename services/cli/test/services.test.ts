// The services' real entry points (src/main.ts of stream-listener and defender-writer, as child
// processes) wired to the control topic and to OpenCTI's connector registry: the command line's
// reconcile and resync act on them, and a reset in OpenCTI replays the stream with nothing lost or
// duplicated in Defender.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { startOpenCtiEmulator } from '@octi-defender/emulators';
import { requireBrokers } from '@octi-defender/kafka/testing';
import { emulator as defenderEmulator, ours, spawnWriter, waitFor, writerEnv } from '../../defender-writer/test/harness.ts';
import { eligible, TOKEN } from '../../stream-listener/test/helpers.ts';
import { runCli } from './helpers.ts';

const LISTENER_MAIN = fileURLToPath(new URL('../../stream-listener/src/main.ts', import.meta.url));
const STREAM = 'c1a2b3c4-0000-4000-8000-00000000a1a1';

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

test('the services as deployed: reconcile and resync from the command line, a connector reset in OpenCTI replays the stream', async (t) => {
  const octi = await startOpenCtiEmulator({ port: 0, host: '127.0.0.1', token: TOKEN, streams: [{ id: STREAM }], heartbeatMs: 200, seed: 51 });
  t.after(() => octi.close());
  const mde = await defenderEmulator();
  t.after(() => mde.close());
  const s = randomUUID().slice(0, 8);
  const names = { commands: `s-${s}.indicators`, dlq: `s-${s}.dlq`, state: `s-${s}.state`, group: `writer-${s}` };
  const kafka = { KAFKA_BROKERS: requireBrokers().join(','), KAFKA_TOPIC_COMMANDS: names.commands, KAFKA_TOPIC_DLQ: names.dlq, KAFKA_TOPIC_CONTROL: `s-${s}.control` };
  const connectorId = randomUUID();

  const listenerOutput: string[] = [];
  const listener = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', LISTENER_MAIN], {
    env: {
      PATH: process.env.PATH ?? '',
      ...kafka,
      HTTP_PORT: '0',
      CONNECTOR_LOG_LEVEL: 'info',
      OPENCTI_URL: octi.url,
      OPENCTI_TOKEN: TOKEN,
      CONNECTOR_LIVE_STREAM_ID: STREAM,
      KAFKA_TOPIC_CHECKPOINTS: `s-${s}.checkpoints`,
      LISTENER_GROUP_ID: `listener-${s}`,
      LISTENER_LEASE_TIMEOUT_MS: '6000',
      CONNECTOR_ID: connectorId,
      LISTENER_CONNECTOR_PING_MS: '1000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  listener.stdout.on('data', (c: Buffer) => listenerOutput.push(c.toString()));
  listener.stderr.on('data', (c: Buffer) => listenerOutput.push(c.toString()));
  t.after(() => stop(listener));
  const writer = spawnWriter(writerEnv(mde, names, { KAFKA_TOPIC_CONTROL: kafka.KAFKA_TOPIC_CONTROL }));
  t.after(() => stop(writer.child));

  octi.append(...[0, 1, 2].map(() => ({ op: 'create' as const, data: eligible(octi.generator.indicator('ipv4')) })));
  await waitFor('three indicators in Defender', () => ours(mde).length === 3, 90_000);
  await waitFor('the connector registered with a state', () => typeof octi.connectors().find((c) => c.id === connectorId)?.connector_state === 'string', 30_000);
  const before = ours(mde);

  mde.reset();
  const reconcile = await runCli(['reconcile', '--tenant', 'test', '--timeout', '60s', '--answer-timeout', '30s'], kafka);
  assert.equal(reconcile.code, 0, reconcile.stderr + reconcile.stdout);
  assert.match(reconcile.stdout, /3 missing re-imported/);
  assert.deepEqual(ours(mde), before);

  const resync = await runCli(['resync', '--stream', STREAM, '--timeout', '60s', '--answer-timeout', '30s'], kafka);
  assert.equal(resync.code, 0, resync.stderr + resync.stdout);
  assert.match(resync.stdout, /done: stream .* resynced/);

  octi.resetConnectorState(connectorId);
  await waitFor('the reset acted on', () => listenerOutput.join('').includes('Connector state has been remotely reset'), 30_000);
  octi.append({ op: 'create', data: eligible(octi.generator.indicator('domain')) });
  await waitFor('the new indicator in Defender', () => ours(mde).length === 4, 60_000);
  const after = ours(mde);
  assert.ok(before.every((v) => after.includes(v)), 'nothing lost');
  assert.equal(mde.indicators().length, 4, 'nothing duplicated');
  assert.ok(!listenerOutput.join('').includes(TOKEN), 'the token never logged');
});
