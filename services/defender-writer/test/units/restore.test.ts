import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CompactedRecord, Kafka } from '@octi-defender/kafka';
import { createLogger } from '@octi-defender/platform';
import { foldCommands } from '../../src/core/claims.ts';
import { encodeState } from '../../src/core/state-codec.ts';
import { CapIndex } from '../../src/state/cap.ts';
import { StateStore } from '../../src/state/state-store.ts';
import { appliedOffsetKey, restorePartition } from '../../src/tasks/restore.ts';
import { facts, NOW, policy, upsert } from '../helpers.ts';

const rec = (offset: number, value: string | null): CompactedRecord => ({ offset: BigInt(offset), value: value === null ? null : Buffer.from(value) }) as CompactedRecord;

describe('restorePartition', () => {
  test('states, tombstones and the applied offset read back in order; what Defender holds is planned again', async () => {
    const store = new StateStore({ dir: ':memory:', cacheBytes: 1 << 20, partitionOf: () => 0 });
    const cap = new CapIndex(10, { db: store.db, partitionOf: () => 0 });
    const claims = foldCommands([], [upsert('s', facts({ value: '93.184.216.1' }), Date.now() - 1000)]);
    const held = encodeState({ claims, applied: { id: '7', identity: 'Block', hash: 'h', expiresAt: NOW * 2 } });
    const fresh = encodeState({ claims });
    const records: [string, CompactedRecord][] = [
      ['IpAddress:93.184.216.1', rec(0, held)],
      ['IpAddress:93.184.216.2', rec(1, fresh)],
      ['IpAddress:93.184.216.3', rec(2, fresh)],
      ['IpAddress:93.184.216.3', rec(3, null)],
      ['IpAddress:93.184.216.4', rec(4, '{broken')],
      [appliedOffsetKey(0, 1), rec(5, JSON.stringify({ next: '42' }))],
    ];
    const kafka = { scanCompacted: (_t: string, visit: (k: string, r: CompactedRecord) => void) => Promise.resolve(records.forEach(([k, r]) => visit(k, r))) } as unknown as Kafka;
    const pending = new Set(['IpAddress:93.184.216.3']);
    const out = await restorePartition({ kafka, stateTopic: 's', partitionCount: 1, store, cap, policy: policy(), pending, logger: createLogger({ name: 'test', level: 'silent' }) }, 0, Date.now());
    assert.deepEqual(out, { nextOffset: 42n, restored: 3 });
    assert.equal(store.get('IpAddress:93.184.216.1')?.applied?.id, '7');
    assert.ok(store.get('IpAddress:93.184.216.2'));
    assert.equal(store.get('IpAddress:93.184.216.3'), undefined, 'the tombstone came later');
    assert.equal(store.get('IpAddress:93.184.216.4'), undefined, 'unreadable: ignored');
    assert.deepEqual([...pending], ['IpAddress:93.184.216.1']);
    assert.equal(cap.has('IpAddress:93.184.216.2'), true, 'wanted in Defender: a cap candidate');
    store.close();
  });
});
