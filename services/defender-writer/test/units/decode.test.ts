import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { partitionForKey, type Batch, type IncomingRecord } from '@octi-defender/kafka';
import { createLogger } from '@octi-defender/platform';
import { ResyncHandler } from '../../src/core/resync.ts';
import { decodeBatch, type WriterLetter } from '../../src/tasks/decode.ts';
import type { PartitionTask } from '../../src/tasks/partition-tasks.ts';
import { facts, upsert } from '../helpers.ts';

const PARTITIONS = 4;
const log = createLogger({ name: 'test', level: 'silent' });

function record(offset: bigint, key: string | null, value: string | null, partition: number): IncomingRecord {
  return { topic: 'commands', partition, offset, key, value: value === null ? null : Buffer.from(value), headers: {}, timestamp: 0 };
}

function batchOf(records: IncomingRecord[], partition: number, highWatermark: bigint): Batch {
  const last = records.at(-1)?.offset ?? 0n;
  return { topic: 'commands', partition, records, lastOffset: last, highWatermark, resolveOffset: () => undefined, heartbeat: () => Promise.resolve(), isRunning: () => true, isStale: () => false };
}

describe('decodeBatch', () => {
  test('commands kept, bad records dead-lettered with the reason, applied offsets skipped, lag measured', () => {
    const cmd = upsert('src-1', facts({ value: '93.184.216.1' }));
    const p = partitionForKey(cmd.key, PARTITIONS);
    const other = upsert('src-2', facts({ value: '93.184.216.2' }));
    const letters: WriterLetter[] = [];
    const task: PartitionTask = { partition: p, state: 'running', nextOffset: 10n, behind: 0n, behindAt: 0 };
    const raw = JSON.stringify(cmd);
    const b = batchOf(
      [
        record(9n, cmd.key, raw, p),
        record(10n, cmd.key, raw, p),
        record(11n, 'x', null, p),
        record(12n, 'x', '{not json', p),
        record(13n, other.key, JSON.stringify({ ...cmd }), p),
      ],
      p,
      20n,
    );
    const d = decodeBatch(
      {
        resync: new ResyncHandler({ claimsOf: () => [], keysOf: () => [] }),
        partitionCount: PARTITIONS,
        logger: log,
        deadLetter: (l) => (letters.push(l), { topic: 'dlq', key: String(l.key), value: '' }),
      },
      b,
      task,
      1234,
    );
    assert.deepEqual(d.commands, [cmd], 'offset 9 was applied already');
    assert.deepEqual(letters.map((l) => [l.source?.offset, l.reason]), [
      ['11', 'empty_value'],
      ['12', 'invalid_json'],
      ['13', 'key_mismatch'],
    ]);
    assert.equal(letters[1]?.raw, '{not json');
    assert.deepEqual(d.offset, { topic: 'commands', partition: p, offset: 14n });
    assert.equal(task.behind, 6n);
    assert.equal(task.behindAt, 1234);
  });
});
