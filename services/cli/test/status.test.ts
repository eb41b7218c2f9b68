// `octi-defender status` against a real broker and two writers run as child processes, one per
// tenant: tenant "room" holds its whole share of the cap (short of room), tenant "down" has Defender
// failing (paused, breaker open) and falls behind; the listener is not running and its only stream
// position is an hour old. The command names each, exits 1, and says it in --json too.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startDefenderEmulator, type DefenderEmulator } from '@octi-defender/emulators';
import { encodeCommand } from '@octi-defender/indicators';
import { createKafka, topicDefinitions, type Kafka } from '@octi-defender/kafka';
import { requireBrokers } from '@octi-defender/kafka/testing';
import { encodeCheckpoint } from '@octi-defender/stream-listener';
import { ipUpsert, runCli, startService, TENANT, CLIENT, uniqueNames, until, writerEnv, type ServiceProcess } from './helpers.ts';

const names = uniqueNames();
const ROOM = `room${names.suffix}`;
const DOWN = `down${names.suffix}`;
const STREAM = `stream-${names.suffix}`;
const LISTENER_GROUP = `listener-${names.suffix}`;
const VALUES = ['45.155.205.20', '45.155.205.21', '45.155.205.22'];
let ok: DefenderEmulator;
let failing: DefenderEmulator;
let kafka: Kafka;
let stateDir: string;
const writers: ServiceProcess[] = [];

function env(mde: DefenderEmulator, tenant: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...writerEnv(mde, { ...names, tenant }),
    HTTP_PORT: '0',
    WRITER_STATE_DIR: stateDir,
    WRITER_RECONCILE_INTERVAL_MS: '0',
    WRITER_SESSION_TIMEOUT_MS: '6000',
    WRITER_LAG_INTERVAL_MS: '1000',
    STATUS_INTERVAL_MS: '1000',
    CONNECTOR_LOG_LEVEL: 'warn',
    ...extra,
  };
}

/** What the operator's shell has: the listener's variables (so its group and checkpoints topic are known). */
const operatorEnv = (): Record<string, string> => ({
  KAFKA_BROKERS: requireBrokers().join(','),
  KAFKA_TOPIC_COMMANDS: names.commands,
  KAFKA_TOPIC_DLQ: names.dlq,
  KAFKA_TOPIC_CHECKPOINTS: names.checkpoints,
  OPENCTI_URL: 'https://opencti.example.com',
  OPENCTI_TOKEN: 'opencti-token-never-printed',
  CONNECTOR_LIVE_STREAM_ID: STREAM,
  LISTENER_GROUP_ID: LISTENER_GROUP,
});

before(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'cli-status-'));
  ok = await startDefenderEmulator({ port: 0, host: '127.0.0.1', tenantId: TENANT, clients: [CLIENT], rateLimits: false });
  failing = await startDefenderEmulator({ port: 0, host: '127.0.0.1', tenantId: TENANT, clients: [CLIENT], rateLimits: false });
  failing.faults({ type: 'status', status: 503, endpoints: ['import'] });
  kafka = createKafka({ brokers: requireBrokers(), clientId: 'cli-status-test' });
  const admin = await kafka.admin();
  await admin.createTopics(topicDefinitions({ commandsTopic: names.commands, checkpointsTopic: names.checkpoints, dlqTopic: names.dlq, commandsPartitions: 3 }, [ROOM, DOWN]));
  await admin.close();
  const producer = await kafka.producer();
  await producer.send(VALUES.map((v, i) => {
    const c = ipUpsert(v, i + 1, { streamId: STREAM, score: 51 + i });
    return { topic: names.commands, key: c.key, value: encodeCommand(c), headers: { op: 'upsert' } };
  }));
  // The listener's last position, an hour ago; the listener itself is not running.
  const hourAgo = Date.now() - 3_600_000;
  await producer.send([{ topic: names.checkpoints, key: STREAM, value: encodeCheckpoint({ streamId: STREAM, lastEventId: `${hourAgo}-0`, updatedAt: new Date(hourAgo).toISOString() }) }]);
  await producer.close();
});

after(async () => {
  for (const w of writers) await w.stop();
  await kafka.close();
  await ok.close();
  await failing.close();
  rmSync(stateDir, { recursive: true, force: true });
});

test('status names a paused writer, a lagging tenant, a tenant short of room and a stale listener; exit 1', async () => {
  writers.push(startService('services/defender-writer/src/main.ts', env(ok, ROOM, { MICROSOFT_DEFENDER_INTEL_MAX_INDICATORS: '1' })));
  writers.push(
    startService(
      'services/defender-writer/src/main.ts',
      env(failing, DOWN, { DEFENDER_HTTP_MAX_RETRIES: '0', DEFENDER_BREAKER_CONSECUTIVE_FAILURES: '1', DEFENDER_BREAKER_RESET_MS: '600000', WRITER_RETRY_PAUSE_MS: '500' }),
    ),
  );
  await until('tenant room holds one indicator', () => ok.indicators().length === 1);
  await until('tenant down tried to import', () => failing.stats().import.calls > 0);

  const args = ['status', '--tenant', ROOM, '--tenant', DOWN, '--max-lag', '1'];
  const r = await until('status shows both writers settled', async () => {
    const run = await runCli(args, operatorEnv());
    return /is paused/.test(run.stdout) && /short of room/.test(run.stdout) ? run : undefined;
  });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const attention = r.stdout.split('\n').filter((l) => l.startsWith('✗'));
  assert.ok(attention.some((l) => l.startsWith(`✗ tenant ${DOWN}: writer `) && l.includes('is paused') && l.includes('circuit breaker open')), r.stdout);
  assert.ok(attention.some((l) => l === `✗ tenant ${DOWN}: 3 commands behind (over 1)`), r.stdout);
  assert.ok(attention.some((l) => l.startsWith(`✗ tenant ${ROOM}: writer `) && l.includes('short of room: 1 of 1 indicators held')), r.stdout);
  assert.ok(!attention.some((l) => l.startsWith(`✗ tenant ${ROOM}:`) && l.includes('behind')), r.stdout);
  assert.ok(attention.some((l) => l.startsWith(`✗ stream ${STREAM}: position `) && l.includes('60 min old')), r.stdout);
  assert.ok(attention.some((l) => l.startsWith(`✗ listener: no active stream-listener in group ${LISTENER_GROUP}`)), r.stdout);
  assert.match(r.stdout, new RegExp(`^tenant ${ROOM} \\(group defender-writer\\.${ROOM}, Stable\\): lag 0, indicators held 1 of 1$`, 'm'));
  assert.match(r.stdout, /^ {2}writer .*: partitions 0,1,2, PAUSED, breaker open/m);
  assert.ok(!r.stdout.includes('opencti-token-never-printed') && !r.stderr.includes('opencti-token-never-printed'));

  const j = await runCli([...args, '--json'], operatorEnv());
  assert.equal(j.code, 1);
  const report = JSON.parse(j.stdout) as {
    tenants: { tenant: string; lag: string; writers: { paused?: boolean; breaker?: string; held?: number; capacity?: number; partitions: number[] }[] }[];
    exitCode: number;
  };
  const down = report.tenants.find((t) => t.tenant === DOWN);
  const room = report.tenants.find((t) => t.tenant === ROOM);
  assert.equal(down?.lag, '3');
  assert.equal(down?.writers[0]?.paused, true);
  assert.equal(down?.writers[0]?.breaker, 'open');
  assert.deepEqual([room?.writers[0]?.held, room?.writers[0]?.capacity, room?.writers[0]?.partitions], [1, 1, [0, 1, 2]]);
});

test('status --keys, beside a writer (its variables): the keys of the tenant from its state topic, over-cap ones named', async () => {
  const beside = { ...operatorEnv(), ...writerEnv(ok, { ...names, tenant: ROOM }), MICROSOFT_DEFENDER_INTEL_MAX_INDICATORS: '1' };
  const r = await runCli(['status', '--tenant', ROOM, '--keys'], beside);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /^ {2}keys: in Defender 1, waiting 2 \(over the cap, held back as foreign, or a send pending\), refused by Defender 0, not sent by policy: none$/m);
  assert.match(r.stdout, new RegExp(`^✗ tenant ${ROOM}: short of room: 2 keys wait over the cap \\(1 of 1 held\\)$`, 'm'));
  assert.ok(!(r.stdout + r.stderr).includes(CLIENT.clientSecret));
});

test('a stopped writer leaves a tenant without a live writer; an unreachable Kafka is exit 3', async () => {
  const room = writers.shift();
  assert.equal(await room?.stop(), 0);
  const r = await until('the group is empty', async () => {
    const run = await runCli(['status', '--tenant', ROOM], operatorEnv());
    return run.stdout.includes(`✗ tenant ${ROOM}: no live writer in group defender-writer.${ROOM}`) ? run : undefined;
  });
  assert.equal(r.code, 1);
  const down = await runCli(['status'], { ...operatorEnv(), KAFKA_BROKERS: '127.0.0.1:1' });
  assert.equal(down.code, 3);
  assert.match(down.stderr, /status: Kafka is unreachable at 127\.0\.0\.1:1/);
});
