// Batch intake with a recording round: joins, folds, defers, and what each outcome means for a batch.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deadLetterRecord, partitionForKey, type Batch, type IncomingRecord } from '@octi-defender/kafka';
import { createLogger, createRegistry } from '@octi-defender/platform';
import { ResyncHandler } from '../../src/core/resync.ts';
import type { DefenderClient } from '../../src/defender/client.ts';
import { createWriterMetrics } from '../../src/metrics.ts';
import { CatchUp } from '../../src/tasks/catch-up.ts';
import { FlowControl } from '../../src/tasks/flow-control.ts';
import { BatchIntake } from '../../src/tasks/intake.ts';
import { Lease } from '../../src/tasks/lease.ts';
import { PartitionTasks } from '../../src/tasks/partition-tasks.ts';
import type { Applied, RoundInput } from '../../src/tasks/round.ts';
import { facts, upsert } from '../helpers.ts';
import { fakeKafka } from './fakes.ts';

const PARTITIONS = 2;
const log = createLogger({ name: 'test', level: 'silent' });
/** One command per partition. */
const cmdOn = (partition: number) => {
  for (let i = 1;; i++) {
    const c = upsert(`src-${i}`, facts({ value: `93.184.216.${i}` }));
    if (partitionForKey(c.key, PARTITIONS) === partition) return c;
  }
};

function batchOf(partition: number, offset: bigint, highWatermark = offset + 1n) {
  const c = cmdOn(partition);
  const record: IncomingRecord = { topic: 'commands', partition, offset, key: c.key, value: Buffer.from(JSON.stringify(c)), headers: {}, timestamp: 0 };
  const resolved: bigint[] = [];
  const batch = {
    topic: 'commands',
    partition,
    records: [record],
    lastOffset: offset,
    highWatermark,
    resolveOffset: (o: bigint) => void resolved.push(o),
    heartbeat: () => Promise.resolve(),
    isRunning: () => true,
    isStale: () => false,
  } as Batch;
  return { batch, resolved };
}

async function setup(o: { quotaWaitMs?: number; catchUpLag?: number; outcome?: Applied } = {}) {
  const tasks = new PartitionTasks(fakeKafka().kafka, 'g', log);
  for (const p of [0, 1]) {
    await tasks.begin(p, 0);
    tasks.restored(p);
  }
  const rounds: RoundInput[] = [];
  let maintained = 0;
  let lock: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = lock.then(fn);
    lock = run.catch(() => undefined);
    return run;
  };
  const client = { breakerState: 'closed', throttledForMs: () => 0, quotaWaitMs: () => o.quotaWaitMs ?? 0, quotaReady: () => Promise.resolve() } as unknown as DefenderClient;
  const flow = new FlowControl({
    pauseAll: () => undefined,
    resumeAll: () => undefined,
    breakerOpen: () => false,
    throttledForMs: () => 0,
    backoffMs: () => 60_000,
    resumed: () => undefined,
    changed: () => undefined,
  });
  const catchUp = new CatchUp({ lag: o.catchUpLag ?? 0, maxMs: 60_000, ended: () => undefined, expired: () => undefined });
  const metrics = createWriterMetrics(createRegistry({ prefix: 'test' }));
  const intake = new BatchIntake({
    exclusive,
    closed: () => false,
    tasks,
    lease: new Lease(() => 60_000),
    client,
    resync: new ResyncHandler({ claimsOf: () => [], keysOf: () => [] }),
    metrics,
    logger: log,
    now: () => Date.now(),
    partitionCount: () => PARTITIONS,
    flow,
    catchUp,
    deadLetter: (l) => deadLetterRecord('dlq', { origin: 'defender-writer', ...l }),
    run: (input) => {
      rounds.push(input);
      const outcome = o.outcome ?? 'ok';
      return Promise.resolve({ outcome, partitions: new Map(input.batches.map((b) => [b.offset.partition, outcome])) });
    },
    maintain: () => Promise.resolve(void maintained++),
  });
  return { intake, rounds, flow, catchUp, maintained: () => maintained, close: () => (flow.close(), catchUp.close()) };
}

describe('BatchIntake', () => {
  test('the batches of one fetch join: one round sends them all, each resolved with its partition', async () => {
    const s = await setup();
    const a = batchOf(0, 10n);
    const b = batchOf(1, 20n);
    await Promise.all([s.intake.onBatch(a.batch), s.intake.onBatch(b.batch)]);
    assert.equal(s.rounds.length, 1);
    assert.equal(s.rounds[0]?.mode, 'send');
    assert.equal(s.rounds[0]?.commands.length, 2);
    assert.deepEqual(s.rounds[0]?.batches.map((x) => x.offset.offset).sort(), [11n, 21n]);
    assert.deepEqual(a.resolved, [10n]);
    assert.deepEqual(b.resolved, [20n]);
    s.close();
  });

  test('while the quota would make the call wait, a batch folds and one send follows', async () => {
    const s = await setup({ quotaWaitMs: 500 });
    const a = batchOf(0, 1n);
    await s.intake.onBatch(a.batch);
    assert.equal(s.rounds[0]?.mode, 'fold');
    assert.deepEqual(a.resolved, [1n]);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(s.maintained(), 1, 'the send of the folded keys');
    s.close();
  });

  test('catching up with a backlog: deferred to the state', async () => {
    const s = await setup({ catchUpLag: 100 });
    await s.intake.onBatch(batchOf(0, 1n, 5000n).batch);
    assert.equal(s.rounds[0]?.mode, 'defer');
    assert.equal(s.catchUp.active, true);
    s.close();
  });

  test('a round to retry: nothing resolved, the writer backs off and takes no batch meanwhile', async () => {
    const s = await setup({ outcome: 'retry' });
    const a = batchOf(0, 1n);
    await s.intake.onBatch(a.batch);
    assert.deepEqual(a.resolved, []);
    assert.equal(s.flow.mode, 'backoff');
    const b = batchOf(1, 2n);
    await s.intake.onBatch(b.batch);
    assert.equal(s.rounds.length, 1, 'not applied while backing off');
    assert.deepEqual(b.resolved, []);
    s.close();
  });

  test('a lost lease: nothing resolved, no backoff', async () => {
    const s = await setup({ outcome: 'lost' });
    const a = batchOf(0, 1n);
    await s.intake.onBatch(a.batch);
    assert.deepEqual(a.resolved, []);
    assert.equal(s.flow.mode, 'running');
    s.close();
  });
});
