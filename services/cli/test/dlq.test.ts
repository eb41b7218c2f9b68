// A command Defender refuses is dead-lettered by the writer (a child process, as deployed), listed by
// `octi-defender dlq list` with Defender's answer, and, once the cause is fixed in Defender, redriven:
// it lands in Defender once, and redriving again changes nothing.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startDefenderEmulator, type DefenderEmulator } from '@octi-defender/emulators';
import { encodeCommand } from '@octi-defender/indicators';
import { createKafka, topicDefinitions, type Kafka } from '@octi-defender/kafka';
import { requireBrokers } from '@octi-defender/kafka/testing';
import { CLIENT, ipUpsert, runCli, startService, TENANT, uniqueNames, until, writerEnv, type ServiceProcess } from './helpers.ts';

const names = uniqueNames();
const GROUP = 'Tier0 Servers';
const REFUSAL = `Invalid rbacGroupNames: device group '${GROUP}' does not exist.`;
const VALUES = ['45.155.205.10', '45.155.205.11'];
let mde: DefenderEmulator;
let kafka: Kafka;
let stateDir: string;

function env(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...writerEnv(mde, names),
    HTTP_PORT: '0',
    WRITER_STATE_DIR: stateDir,
    WRITER_RECONCILE_INTERVAL_MS: '0',
    WRITER_SESSION_TIMEOUT_MS: '6000',
    WRITER_LAG_INTERVAL_MS: '1000',
    CONNECTOR_LOG_LEVEL: 'warn',
    ...extra,
  };
}

async function groupLag(): Promise<bigint> {
  const admin = await kafka.admin();
  try {
    const lag = await admin.groupLag(`defender-writer.${names.tenant}`, names.commands);
    return lag.reduce((s, p) => s + (p.committed === null ? p.end : p.lag), 0n);
  } finally {
    await admin.close();
  }
}

/** Commands on the topic (records, not offsets: transaction markers take offsets too). */
async function commandsEnd(): Promise<bigint> {
  let n = 0n;
  await kafka.scanCompacted(names.commands, () => void n++);
  return n;
}

before(async () => {
  stateDir = mkdtempSync(join(tmpdir(), 'cli-dlq-'));
  mde = await startDefenderEmulator({ port: 0, host: '127.0.0.1', tenantId: TENANT, clients: [CLIENT], rateLimits: false });
  // Defender refusing the items that name the device group (a per-item failure with its text).
  mde.faults({ type: 'item', endpoints: ['import'], bodyIncludes: `"${GROUP}"`, message: REFUSAL });
  kafka = createKafka({ brokers: requireBrokers(), clientId: 'cli-dlq-test' });
  const admin = await kafka.admin();
  await admin.createTopics(topicDefinitions({ commandsTopic: names.commands, checkpointsTopic: names.checkpoints, dlqTopic: names.dlq, commandsPartitions: 3 }, [names.tenant]));
  await admin.close();
  const producer = await kafka.producer();
  await producer.send(VALUES.map((v, i) => {
    const c = ipUpsert(v, i + 1, { name: `C2 ${v}` });
    return { topic: names.commands, key: c.key, value: encodeCommand(c), headers: { op: 'upsert' } };
  }));
  await producer.close();
});

after(async () => {
  await kafka.close();
  await mde.close();
  rmSync(stateDir, { recursive: true, force: true });
});

test('refused by Defender → listed with its answer → cause fixed → redriven → lands once; again changes nothing', async () => {
  const writer: ServiceProcess = startService('services/defender-writer/src/main.ts', env({ MICROSOFT_DEFENDER_INTEL_RBAC_GROUP_NAMES: GROUP }));
  try {
    // 1. Defender refuses both indicators for their device group: the writer dead-letters them.
    await until('both commands applied', async () => (await groupLag()) === 0n && (await commandsEnd()) === 2n);
    assert.equal(mde.indicators().length, 0);

    // 2. dlq list shows them with Defender's message, and its filters select.
    const listed = await runCli(['dlq', 'list', '--service', 'writer', '--reason', 'defender_rejected'], env());
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.split('\n').filter((l) => l.includes('defender_rejected'));
    assert.equal(lines.length, 2, listed.stdout);
    for (const v of VALUES) assert.ok(lines.some((l) => l.includes(`IpAddress:${v}`) && l.includes(`Defender said: ${REFUSAL}`)), listed.stdout);
    const one = await runCli(['dlq', 'list', '--key', `IpAddress:${VALUES[0]}`, '--json'], env());
    const json = JSON.parse(one.stdout) as { letters: { id: string; key: string; reason: string; defender: { message: string } }[] };
    assert.deepEqual(json.letters.map((l) => [l.key, l.reason, l.defender.message]), [[`IpAddress:${VALUES[0]}`, 'defender_rejected', REFUSAL]]);
    assert.equal((await runCli(['dlq', 'list', '--service', 'listener'], env())).stdout.trim().split('\n').at(-1), `0 of 2 dead letters on ${names.dlq}`);
    assert.match((await runCli(['dlq', 'list', '--since', '2000-01-01', '--until', '2001-01-01'], env())).stdout, /^0 of 2 dead letters/m);

    // 2b. A second OpenCTI entity asserts the first value: refused again, a second letter for that key.
    const producer = await kafka.producer();
    const second = ipUpsert(VALUES[0]!, 9, { name: 'C2 other feed', score: 90 });
    await producer.send([{ topic: names.commands, key: second.key, value: encodeCommand(second), headers: { op: 'upsert' } }]);
    await producer.close();
    await until('the second refusal is dead-lettered', async () => (await groupLag()) === 0n && (await runCli(['dlq', 'list'], env())).stdout.includes('3 of 3 dead letters'));

    // 3. The cause fixed in Defender (the device group now exists): nothing is re-sent by itself; a dry run publishes nothing.
    mde.clearFaults();
    const before = await commandsEnd();
    const dry = await runCli(['dlq', 'redrive', '--reason', 'defender_rejected', '--dry-run'], env());
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /dry run: would redrive 3 of 3 selected dead letters/);
    assert.equal(await commandsEnd(), before, 'a dry run publishes nothing');
    assert.equal(mde.indicators().length, 0);

    // 4. Redrive: the latest command of each source of each refused key is re-published once (the
    //    key refused twice once), and Defender holds both indicators.
    const redrive = await runCli(['dlq', 'redrive', '--reason', 'defender_rejected'], env());
    assert.equal(redrive.code, 0, redrive.stdout + redrive.stderr);
    assert.match(redrive.stdout, /^redriven 3 of 3 selected dead letters/m);
    assert.match(redrive.stdout, new RegExp(`^redriven \\S+ defender-writer defender_rejected IpAddress:${VALUES[0]!.replaceAll('.', '\\.')}: 0 commands → \\S+ \\(its key's commands went with`, 'm'));
    assert.equal(await commandsEnd(), before + 3n);
    await until('Defender holds both indicators', () => mde.indicators().length === 2);
    await until('the writer applied the redrive', async () => (await groupLag()) === 0n);
    assert.deepEqual(mde.indicators().map((i) => [i.indicatorValue, i.rbacGroupNames, i.title]).sort(), [[VALUES[0], [GROUP], 'C2 other feed'], [VALUES[1], [GROUP], `C2 ${VALUES[1]}`]]);
    const imported = mde.stats().import.items;

    // 5. Redriving again changes nothing: skipped as redriven; forced, the writer finds them applied.
    const again = await runCli(['dlq', 'redrive', '--reason', 'defender_rejected'], env());
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^redriven 0 of 3 selected dead letters/m);
    assert.equal((again.stdout.match(/^skipped .*: redriven 20/gm) ?? []).length, 3, again.stdout);
    assert.equal(await commandsEnd(), before + 3n);
    const forced = await runCli(['dlq', 'redrive', '--reason', 'defender_rejected', '--force'], env());
    assert.match(forced.stdout, /^redriven 3 of 3/m);
    assert.equal(await commandsEnd(), before + 6n);
    await until('the writer applied the forced redrive', async () => (await groupLag()) === 0n);
    assert.equal(mde.stats().import.items, imported, 'no import for indicators already in sync');
    assert.equal(mde.indicators().length, 2);
    const marked = await runCli(['dlq', 'list', '--reason', 'defender_rejected'], env());
    assert.equal((marked.stdout.match(/\[redriven /g) ?? []).length, 3, marked.stdout);
  } finally {
    assert.equal(await writer.stop(), 0, writer.output());
  }
});

test('redrive refuses to run without a selection, and says so', async () => {
  const r = await runCli(['dlq', 'redrive'], env());
  assert.equal(r.code, 2);
  assert.match(r.stderr, /select the dead letters to redrive .* or pass --all/);
});

test('dlq list refuses clearly when Kafka is unreachable, without printing the secret', async () => {
  const r = await runCli(['dlq', 'list'], { ...env(), KAFKA_BROKERS: '127.0.0.1:1' });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /Kafka is unreachable at 127\.0\.0\.1:1 .*check KAFKA_BROKERS/);
  assert.ok(!(r.stdout + r.stderr).includes(CLIENT.clientSecret));
});
