// The round against the Defender emulator (real client, real HTTP), its Kafka commits through fake
// producers: one local transaction, made durable only when every partition committed.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startDefenderEmulator, type DefenderEmulator } from '@octi-defender/emulators';
import { deadLetterRecord } from '@octi-defender/kafka';
import { createLogger, createRegistry } from '@octi-defender/platform';
import type { WriterConfig } from '../../src/config.ts';
import { DefenderMetrics } from '../../src/defender/metrics.ts';
import { createWriterMetrics } from '../../src/metrics.ts';
import { CapIndex } from '../../src/state/cap.ts';
import { KeyTracking } from '../../src/state/key-tracking.ts';
import { StateStore } from '../../src/state/state-store.ts';
import { Lease } from '../../src/tasks/lease.ts';
import { PartitionTasks } from '../../src/tasks/partition-tasks.ts';
import { Round } from '../../src/tasks/round.ts';
import { TenantView } from '../../src/tasks/tenant-view.ts';
import { CLIENT_ID, emulatorClient, SECRET, TENANT } from '../client-fixtures.ts';
import { facts, policy, upsert } from '../helpers.ts';
import { fakeKafka } from './fakes.ts';

let emu: DefenderEmulator;
before(async () => {
  emu = await startDefenderEmulator({ tenantId: TENANT, clients: [{ clientId: CLIENT_ID, clientSecret: SECRET }], port: 0, rateLimits: false });
});
after(() => emu.close());
beforeEach(() => emu.reset());

const log = createLogger({ name: 'test', level: 'silent' });
/** Keys ending in an even digit are partition 0, odd ones partition 1. */
const partitionOf = (key: string): number => Number(key.at(-1)) % 2;
const ip = (i: number) => `93.184.216.${i}`;
const key = (i: number) => `IpAddress:${ip(i)}`;

async function setup() {
  const cfg = { dryRun: false, itemMaxAttempts: 3, stateTopic: 'state', clientId: CLIENT_ID, maxIndicators: 15_000, tenantLimit: 15_000, foreignCheckMs: 0 } as WriterConfig;
  const registry = createRegistry({ prefix: 'test' });
  const metrics = createWriterMetrics(registry);
  const client = emulatorClient(emu, { metrics: new DefenderMetrics(registry) });
  const store = new StateStore({ dir: ':memory:', cacheBytes: 1 << 20, partitionOf });
  const cap = new CapIndex(0, { db: store.db, partitionOf });
  const keys = new KeyTracking(partitionOf);
  const f = fakeKafka();
  const tasks = new PartitionTasks(f.kafka, 'g', log);
  for (const p of [0, 1]) {
    await tasks.begin(p, 0);
    tasks.restored(p);
  }
  const now = () => Date.now();
  const tenant = new TenantView({ cfg, client, store, cap, keys, metrics, logger: log, now, reconcileNow: () => undefined });
  tenant.applyRoom(1);
  const round = new Round({
    cfg,
    store,
    cap,
    keys,
    tenant,
    tasks,
    lease: new Lease(() => 60_000),
    client,
    policy: policy(),
    metrics,
    logger: log,
    now,
    partitionOf,
    offsetKey: (p) => `__writer__/applied-offset/${p}`,
    deadLetter: (l) => deadLetterRecord('dlq', { origin: 'defender-writer', ...l }),
  });
  return { round, store, cap, keys, tasks, f, metrics, close: async () => (store.close(), await client.close()) };
}

const batch = (partition: number, offset: bigint) => ({
  commands: [],
  deadLetters: [{ topic: 'dlq', key: `c:${partition}:${offset}`, value: '{}', headers: { reason: 'empty_value' } }],
  offset: { topic: 'commands', partition, offset },
});

describe('Round', () => {
  test('every partition committed: the states, the cap and the offsets are kept; the dead letters counted once', async () => {
    const s = await setup();
    const commands = [1, 2, 3, 4].map((i) => upsert(`src-${i}`, facts({ value: ip(i) }), Date.now() - 1000));
    const r = await s.round.run({ commands, batches: [batch(0, 5n), batch(1, 7n)], mode: 'send' });
    assert.equal(r.outcome, 'ok');
    assert.deepEqual([...r.partitions].sort(), [[0, 'ok'], [1, 'ok']]);
    assert.equal(emu.indicators().length, 4);
    for (const i of [1, 2, 3, 4]) {
      assert.ok(s.store.get(key(i))?.applied, `${key(i)} applied`);
      assert.equal(s.cap.isAdmitted(key(i)), true);
    }
    assert.equal(s.keys.pending.size, 0);
    assert.equal((await s.metrics.deadLetters.get()).values.reduce((n, v) => n + v.value, 0), 2);
    await s.close();
  });

  test('one partition’s Kafka transaction fails: the other’s states are kept, the failed one’s store and cap are as before, its keys pending', async () => {
    const s = await setup();
    s.f.fail.always.set('g.p1', new Error('broker down'));
    const commands = [1, 2, 3, 4].map((i) => upsert(`src-${i}`, facts({ value: ip(i) }), Date.now() - 1000));
    const r = await s.round.run({ commands, batches: [batch(0, 5n), batch(1, 7n)], mode: 'send' });
    assert.equal(r.outcome, 'retry');
    assert.deepEqual([...r.partitions].sort(), [[0, 'retry'], [1, 'retry']], 'a batch whose partition committed still replays');
    for (const i of [2, 4]) assert.ok(s.store.get(key(i))?.applied, `${key(i)}: its partition committed`);
    for (const i of [1, 3]) {
      assert.equal(s.store.get(key(i)), undefined, `${key(i)}: its partition did not commit`);
      assert.equal(s.cap.has(key(i)), false, `${key(i)}: not in the cap either`);
      assert.ok(s.keys.pending.has(key(i)));
    }
    assert.ok(s.keys.pending.has(key(2)), 'committed keys are planned again (their cap entries come from their new states)');
    assert.equal((await s.metrics.deadLetters.get()).values.reduce((n, v) => n + v.value, 0), 1, 'only the committed partition’s dead letter');
    // The next round, all committing, converges without a second import of what Defender holds.
    s.f.fail.always.clear();
    const again = await s.round.run({ commands, batches: [], mode: 'send' });
    assert.equal(again.outcome, 'ok');
    for (const i of [1, 2, 3, 4]) assert.equal(s.cap.isAdmitted(key(i)), true);
    assert.equal(emu.indicators().length, 4);
    await s.close();
  });

  test('Defender fails: nothing is committed, the local state is as before, the keys stay pending', async () => {
    const s = await setup();
    const first = [upsert('src-1', facts({ value: ip(1) }), Date.now() - 1000)];
    assert.equal((await s.round.run({ commands: first, batches: [], mode: 'send' })).outcome, 'ok');
    const before = s.store.get(key(1));
    emu.faults({ type: 'status', status: 503, endpoints: ['import'] });
    const commands = [upsert('src-1', facts({ value: ip(1), score: 20 }), Date.now() - 500), upsert('src-2', facts({ value: ip(2) }), Date.now() - 500)];
    const r = await s.round.run({ commands, batches: [batch(0, 9n)], mode: 'send' });
    assert.equal(r.outcome, 'retry');
    assert.equal(s.f.sent.length, 1, 'no Kafka transaction after the first round');
    assert.equal(s.store.get(key(1)), before);
    assert.equal(s.store.get(key(2)), undefined);
    assert.equal(s.cap.has(key(2)), false);
    assert.ok(s.keys.pending.has(key(1)) && s.keys.pending.has(key(2)));
    assert.equal((await s.metrics.deadLetters.get()).values.reduce((n, v) => n + v.value, 0), 0);
    await s.close();
  });

  test('what a reconciliation forgot survives a failed round: the next round imports it again', async () => {
    const s = await setup();
    assert.equal((await s.round.run({ commands: [upsert('src-1', facts({ value: ip(1) }), Date.now() - 1000)], batches: [], mode: 'send' })).outcome, 'ok');
    const lost = emu.indicators().find((i) => i.indicatorValue === ip(1));
    assert.ok(lost);
    emu.removeIndicators([String(lost.id)]);
    s.keys.forget.add(key(1));
    emu.faults({ type: 'status', status: 503, endpoints: ['import'] });
    const failed = await s.round.run({ commands: [], batches: [], mode: 'send' });
    assert.equal(failed.outcome, 'retry');
    assert.equal(s.store.get(key(1))?.applied?.id, lost.id, 'rolled back: the state still says applied');
    assert.ok(s.keys.forget.has(key(1)), 'still to forget');
    emu.clearFaults();
    const again = await s.round.run({ commands: [], batches: [], mode: 'send' });
    assert.equal(again.outcome, 'ok');
    assert.equal(again.complete, true);
    assert.equal(s.keys.forget.size, 0);
    assert.ok(emu.indicators().some((i) => i.indicatorValue === ip(1)), 'imported again');
    assert.notEqual(s.store.get(key(1))?.applied?.id, lost.id);
    await s.close();
  });

  test('the local store failing after Kafka committed: nothing of the round is kept, the partitions are to be restored, no offset moves', async () => {
    const s = await setup();
    const put = s.store.put.bind(s.store);
    s.store.put = () => {
      throw new Error('disk full');
    };
    const commands = [1, 2].map((i) => upsert(`src-${i}`, facts({ value: ip(i) }), Date.now() - 1000));
    const r = await s.round.run({ commands, batches: [batch(0, 5n), batch(1, 7n)], mode: 'send' });
    s.store.put = put;
    assert.equal(r.outcome, 'retry');
    assert.deepEqual([...r.stale].sort(), [0, 1]);
    assert.equal(s.store.get(key(1)), undefined);
    assert.equal(s.cap.has(key(1)), false);
    assert.equal(s.tasks.running(0)?.nextOffset, 0n);
    assert.equal(s.tasks.running(1)?.nextOffset, 0n);
    await s.close();
  });

  test('a fenced partition is reported, not committed; a lost lease sends nothing', async () => {
    const s = await setup();
    const { ProducerFencedError } = await import('@octi-defender/kafka');
    s.f.fail.always.set('g.p0', new ProducerFencedError('newer'));
    const commands = [1, 2].map((i) => upsert(`src-${i}`, facts({ value: ip(i) }), Date.now() - 1000));
    const r = await s.round.run({ commands, batches: [], mode: 'send' });
    assert.deepEqual(r.fenced, [0]);
    assert.equal(r.partitions.get(0), 'lost');
    assert.equal(s.store.get(key(2)), undefined);
    await s.close();
  });
});
