// `octi-defender check` against the emulators and a real broker, run as a child process: it passes
// on a good configuration and names each misconfiguration with what to fix, never printing a secret.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startDefenderEmulator, startOpenCtiEmulator, type DefenderEmulator, type OpenCtiEmulator } from '@octi-defender/emulators';
import { createKafka, topicDefinitions, type Kafka } from '@octi-defender/kafka';
import { requireBrokers } from '@octi-defender/kafka/testing';
import { CLIENT, failures, listenerEnv, OPENCTI_TOKEN, runCli, TENANT, uniqueNames, writerEnv } from './helpers.ts';

const STREAM = 'a1b2c3d4-0000-4000-8000-00000000cafe';
const names = uniqueNames();
let octi: OpenCtiEmulator;
let mde: DefenderEmulator;
let kafka: Kafka;

before(async () => {
  octi = await startOpenCtiEmulator({ port: 0, host: '127.0.0.1', token: OPENCTI_TOKEN, streams: [{ id: STREAM }], heartbeatMs: 1000 });
  mde = await startDefenderEmulator({
    port: 0,
    host: '127.0.0.1',
    tenantId: TENANT,
    clients: [CLIENT, { clientId: '99999999-aaaa-4bbb-8ccc-dddddddddddd', clientSecret: 'read-only-secret-1234', roles: ['Ti.Read.All'] }],
  });
  kafka = createKafka({ brokers: requireBrokers(), clientId: 'cli-check-test' });
  const admin = await kafka.admin();
  await admin.createTopics(topicDefinitions({ commandsTopic: names.commands, checkpointsTopic: names.checkpoints, dlqTopic: names.dlq, commandsPartitions: 3 }, [names.tenant]));
  await admin.close();
});

after(async () => {
  await kafka.close();
  await octi.close();
  await mde.close();
});

const good = (): Record<string, string> => ({ ...listenerEnv(octi.url, [STREAM], names), ...writerEnv(mde, names) });

test('a good configuration passes every check, exit 0, and prints no secret', async () => {
  const r = await runCli(['check'], good());
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.deepEqual(failures(r.stdout), []);
  for (
    const expected of [
      'OpenCTI reachable',
      'OpenCTI token',
      `live stream ${STREAM} readable`,
      'Entra token',
      'Ti.ReadWrite.All',
      'Defender API answers a list call',
      'Kafka reachable',
      `topic ${names.commands}`,
      `topic ${names.tenant}`.slice(0, 6),
    ]
  ) {
    assert.match(r.stdout, new RegExp(`^✓ .*${expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`, 'm'), expected);
  }
  assert.match(r.stdout, /all \d+ checks passed/);
  assert.ok(!r.stdout.includes(OPENCTI_TOKEN) && !r.stderr.includes(OPENCTI_TOKEN));
  assert.ok(!r.stdout.includes(CLIENT.clientSecret) && !r.stderr.includes(CLIENT.clientSecret));
});

test('--json reports every check for scripts', async () => {
  const r = await runCli(['check', '--json'], good());
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { ok: boolean; checks: { name: string; ok: boolean }[] };
  assert.equal(report.ok, true);
  assert.ok(report.checks.length >= 9);
  assert.ok(report.checks.every((c) => c.ok));
});

test('a bad OpenCTI token is named, with the variable to fix', async () => {
  const r = await runCli(['check'], { ...good(), OPENCTI_TOKEN: 'wrong-token-abcdef' });
  assert.equal(r.code, 1);
  const f = failures(r.stdout);
  assert.ok(f.some((l) => l.includes('OpenCTI token (OPENCTI_TOKEN) accepted') && l.includes('fix: set OPENCTI_TOKEN')), f.join('\n'));
  assert.ok(!r.stdout.includes('wrong-token-abcdef') && !r.stderr.includes('wrong-token-abcdef'));
  assert.match(r.stdout, /^✓ Entra token/m);
});

test('an unknown stream is named with where to find the right id', async () => {
  const r = await runCli(['check'], { ...good(), CONNECTOR_LIVE_STREAM_ID: `${STREAM},no-such-stream` });
  assert.equal(r.code, 1);
  assert.match(r.stdout, new RegExp(`^✓ live stream ${STREAM} readable`, 'm'));
  const f = failures(r.stdout);
  assert.equal(f.length, 1, r.stdout);
  assert.match(f[0]!, /live stream no-such-stream readable: OpenCTI answered 401 You are not authorized.*fix: .*CONNECTOR_LIVE_STREAM_ID/);
});

test('a token without Ti.ReadWrite.All in its roles is named, with the permission to grant', async () => {
  const r = await runCli(['check'], { ...good(), MICROSOFT_DEFENDER_INTEL_CLIENT_ID: '99999999-aaaa-4bbb-8ccc-dddddddddddd', MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: 'read-only-secret-1234' });
  assert.equal(r.code, 1);
  const f = failures(r.stdout);
  assert.equal(f.length, 1, r.stdout);
  assert.match(f[0]!, /roles claim carries Ti\.ReadWrite\.All: roles: Ti\.Read\.All → fix: grant the app the application permission Ti\.ReadWrite\.All/);
  assert.match(r.stdout, /^✓ Defender API answers a list call/m);
  assert.ok(!r.stdout.includes('read-only-secret-1234'));
});

test('a wrong client secret is named with its variable, and its value is never printed', async () => {
  const r = await runCli(['check'], { ...good(), MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: 'not-the-secret-42' });
  assert.equal(r.code, 1);
  assert.ok(failures(r.stdout).some((l) => l.includes('Entra token') && l.includes('MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET')), r.stdout);
  assert.ok(!(r.stdout + r.stderr).includes('not-the-secret-42'));
});

test('unreachable Kafka is named with KAFKA_BROKERS; a missing topic with how to create it', async () => {
  const down = await runCli(['check'], { ...good(), KAFKA_BROKERS: '127.0.0.1:1' });
  assert.equal(down.code, 1);
  assert.ok(failures(down.stdout).some((l) => l.startsWith('✗ Kafka reachable at 127.0.0.1:1') && l.includes('KAFKA_BROKERS')), down.stdout);
  const missing = await runCli(['check'], { ...good(), KAFKA_TOPIC_DLQ: `${names.dlq}-missing` });
  assert.equal(missing.code, 1);
  assert.ok(failures(missing.stdout).some((l) => l.includes(`topic ${names.dlq}-missing (dlq)`) && l.includes('KAFKA_TOPIC_DLQ')), missing.stdout);
});

test('an invalid variable is a configuration failure naming it', async () => {
  const r = await runCli(['check'], { ...good(), OPENCTI_URL: 'not a url' });
  assert.equal(r.code, 1);
  assert.ok(failures(r.stdout).some((l) => l.includes('stream-listener configuration') && l.includes('OPENCTI_URL')), r.stdout);
});
