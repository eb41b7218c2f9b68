// `octi-defender status` on a healthy deployment: a stream-listener and a defender-writer as child
// processes, with the OpenCTI and Defender emulators. It names the active listener and its fresh
// position, the writer with its partitions, and exits 0; stopped, the listener is named as missing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startDefenderEmulator, startOpenCtiEmulator, type DefenderEmulator, type OpenCtiEmulator } from '@octi-defender/emulators';
import { createKafka, topicDefinitions } from '@octi-defender/kafka';
import { requireBrokers } from '@octi-defender/kafka/testing';
import { CLIENT, listenerEnv, OPENCTI_TOKEN, runCli, startService, TENANT, uniqueNames, until, writerEnv, type ServiceProcess } from './helpers.ts';

const names = uniqueNames();
const STREAM = `healthy-${names.suffix}`;
const GROUP = `listener-${names.suffix}`;
let octi: OpenCtiEmulator;
let mde: DefenderEmulator;
let stateDir: string;
const services: ServiceProcess[] = [];

const common = { HTTP_PORT: '0', STATUS_INTERVAL_MS: '1000', CONNECTOR_LOG_LEVEL: 'warn' };
const operatorEnv = (): Record<string, string> => ({ ...listenerEnv(octi.url, [STREAM], names), LISTENER_GROUP_ID: GROUP });

before(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'cli-healthy-'));
  octi = await startOpenCtiEmulator({ port: 0, host: '127.0.0.1', token: OPENCTI_TOKEN, streams: [{ id: STREAM }], heartbeatMs: 1000 });
  mde = await startDefenderEmulator({ port: 0, host: '127.0.0.1', tenantId: TENANT, clients: [CLIENT], rateLimits: false });
  const kafka = createKafka({ brokers: requireBrokers(), clientId: 'cli-healthy-test' });
  const admin = await kafka.admin();
  await admin.createTopics(topicDefinitions({ commandsTopic: names.commands, checkpointsTopic: names.checkpoints, dlqTopic: names.dlq, commandsPartitions: 2 }, [names.tenant]));
  await admin.close();
  await kafka.close();
});

after(async () => {
  for (const s of services) await s.stop();
  await octi.close();
  await mde.close();
  rmSync(stateDir, { recursive: true, force: true });
});

test('a running listener and writer: status names them, nothing needs attention (exit 0)', async () => {
  services.push(startService('services/stream-listener/src/main.ts', { ...operatorEnv(), ...common, LISTENER_LEASE_TIMEOUT_MS: '6000' }));
  services.push(
    startService('services/defender-writer/src/main.ts', { ...writerEnv(mde, names), ...common, WRITER_STATE_DIR: stateDir, WRITER_RECONCILE_INTERVAL_MS: '0', WRITER_SESSION_TIMEOUT_MS: '6000' }),
  );
  const args = ['status', '--tenant', names.tenant];
  const r = await until('status exits 0', async () => {
    const run = await runCli(args, operatorEnv());
    return run.code === 0 ? run : undefined;
  }, 90_000).catch(async (err: unknown) => {
    const last = await runCli(args, operatorEnv());
    throw new Error(`${(err as Error).message}\n${last.stdout}${last.stderr}\n${services.map((s) => s.output()).join('\n')}`);
  });
  assert.match(r.stdout, new RegExp(`^listener group ${GROUP}: active \\S+`, 'm'));
  assert.match(r.stdout, new RegExp(`^ {2}stream ${STREAM}: position \\d+-\\d+, \\d+ s old$`, 'm'));
  assert.match(r.stdout, new RegExp(`^tenant ${names.tenant} \\(group defender-writer\\.${names.tenant}, Stable\\): lag 0`, 'm'));
  assert.match(r.stdout, /^ {2}writer \S+: partitions 0,1, running, breaker closed/m);
  assert.match(r.stdout, /^nothing needs attention$/m);

  const listener = services.shift();
  assert.equal(await listener?.stop(), 0);
  const stopped = await until('the listener is missing', async () => {
    const run = await runCli(args, operatorEnv());
    return run.stdout.includes(`✗ listener: no active stream-listener in group ${GROUP}`) ? run : undefined;
  });
  assert.equal(stopped.code, 1);
});
