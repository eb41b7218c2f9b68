import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProducerFencedError } from '@octi-defender/kafka';
import { createLogger } from '@octi-defender/platform';
import { PartitionTasks, partitionTransactionalId, TASK_TRANSITIONS } from '../../src/tasks/partition-tasks.ts';
import { fakeKafka } from './fakes.ts';

const log = createLogger({ name: 'test', level: 'silent' });
const rec = [{ topic: 't', key: 'k', value: 'v' }];
const off = [{ topic: 'c', partition: 3, offset: 10n }];

describe('PartitionTasks', () => {
  test('restoring → running: owned only once restored; commits go through the partition’s producer', async () => {
    const f = fakeKafka();
    const tasks = new PartitionTasks(f.kafka, 'g', log);
    await tasks.begin(3, 0);
    assert.equal(tasks.owns(3), false);
    assert.equal(await tasks.commit(3, rec, off, () => undefined), 'lost', 'not running yet');
    tasks.restored(3);
    assert.deepEqual([...tasks.owned()], [3]);
    assert.equal(await tasks.commit(3, rec, off, () => undefined), 'ok');
    assert.deepEqual(f.sent, [{ id: partitionTransactionalId('g', 3), records: 1, offsets: 1 }]);
    assert.equal(await tasks.commit(3, [], [], () => undefined), 'ok', 'nothing to commit');
  });
  test('a lost lease commits nothing', async () => {
    const f = fakeKafka();
    const tasks = new PartitionTasks(f.kafka, 'g', log);
    await tasks.begin(0, 0);
    tasks.restored(0);
    assert.equal(
      await tasks.commit(0, rec, [], () => {
        throw new Error('lease');
      }),
      'lost',
    );
    assert.deepEqual(f.sent, []);
  });
  test('fenced: reported, no more commits; restored again through a new producer', async () => {
    const f = fakeKafka();
    const tasks = new PartitionTasks(f.kafka, 'g', log);
    await tasks.begin(1, 0);
    tasks.restored(1);
    f.fail.next = new ProducerFencedError('newer producer');
    assert.equal(await tasks.commit(1, rec, [], () => undefined), 'fenced');
    await tasks.fence(1);
    assert.equal(tasks.isFenced(1), true);
    assert.equal(tasks.owns(1), false);
    assert.deepEqual(f.closed, ['g.p1']);
    assert.equal(await tasks.commit(1, rec, [], () => undefined), 'lost');
    await tasks.begin(1, 0);
    tasks.restored(1);
    assert.equal(tasks.owns(1), true);
    assert.deepEqual(f.opened, ['g.p1', 'g.p1']);
  });
  test('a producer that cannot be registered leaves no task behind: the next assignment begins it again', async () => {
    const f = fakeKafka();
    const tasks = new PartitionTasks(f.kafka, 'g', log);
    f.fail.open = new Error('coordinator not available');
    await assert.rejects(tasks.begin(5, 0), /coordinator not available/);
    assert.equal(tasks.owns(5), false);
    await tasks.begin(5, 0);
    tasks.restored(5);
    assert.equal(tasks.owns(5), true);
  });
  test('closing a fenced task says its state is already gone', async () => {
    const f = fakeKafka();
    const tasks = new PartitionTasks(f.kafka, 'g', log);
    await tasks.begin(6, 0);
    tasks.restored(6);
    await tasks.fence(6);
    assert.equal(await tasks.close(6), false);
  });
  test('another Kafka failure: retry, the task keeps running', async () => {
    const f = fakeKafka();
    const tasks = new PartitionTasks(f.kafka, 'g', log);
    await tasks.begin(2, 0);
    tasks.restored(2);
    f.fail.next = new Error('broker down');
    assert.equal(await tasks.commit(2, rec, [], () => undefined), 'retry');
    assert.equal(tasks.owns(2), true);
  });
  test('revoked: closed and gone; invalid moves are refused', async () => {
    const f = fakeKafka();
    const tasks = new PartitionTasks(f.kafka, 'g', log);
    await tasks.begin(4, 0);
    await assert.rejects(tasks.begin(4, 0), /already restoring/);
    tasks.restored(4);
    assert.throws(() => tasks.restored(4), /invalid transition running -> running/);
    assert.equal(await tasks.close(4), true);
    assert.equal(await tasks.close(4), false);
    assert.deepEqual(f.closed, ['g.p4']);
    assert.deepEqual(TASK_TRANSITIONS.closed, []);
  });
});
