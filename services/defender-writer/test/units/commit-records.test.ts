import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MAX_STATE_CHARS, prepareCommit, type CommitInput } from '../../src/core/commit-records.ts';
import { foldCommands } from '../../src/core/claims.ts';
import type { KeyState } from '../../src/core/plan.ts';
import { facts, NOW, upsert } from '../helpers.ts';

const st = (...ids: string[]): KeyState => ({ claims: foldCommands([], ids.map((id) => upsert(id, facts({ score: 50 }), NOW))) });

function input(over: Partial<CommitInput>): CommitInput {
  return {
    states: new Map(),
    rejected: [],
    refusedDeletes: [],
    batches: [],
    before: () => undefined,
    forceWrite: new Set(),
    partitionOf: (key) => (key.startsWith('p1') ? 1 : 0),
    stateTopic: 'state',
    offsetKey: (p) => `__writer__/applied-offset/${p}`,
    deadLetter: (l) => ({ topic: 'dlq', key: l.key, value: JSON.stringify(l), headers: { reason: l.reason } }),
    ...over,
  };
}

describe('prepareCommit', () => {
  test('only changed states are written, per partition, and a forgotten key is a tombstone', () => {
    const same = st('a');
    const before = new Map<string, KeyState>([['p0:same', same], ['p1:gone', st('b')]]);
    const changed = st('c');
    const commits = prepareCommit(input({ states: new Map<string, KeyState | undefined>([['p0:same', same], ['p0:new', changed], ['p1:gone', undefined]]), before: (k) => before.get(k) }));
    assert.deepEqual([...commits.keys()].sort(), [0, 1]);
    assert.deepEqual(commits.get(0)?.records.map((r) => r.key), ['p0:new']);
    assert.deepEqual(commits.get(1)?.records, [{ topic: 'state', key: 'p1:gone', value: null }]);
    assert.equal(commits.get(1)?.toStore.get('p1:gone'), null);
    assert.equal(commits.get(0)?.toStore.get('p0:new')?.state, changed);
  });
  test('a forced key is written even unchanged or unplanned', () => {
    const forgotten = st('a');
    const commits = prepareCommit(input({ forceWrite: new Set(['p0:f', 'p0:unplanned']), states: new Map([['p0:f', forgotten]]), before: (k) => (k === 'p0:f' ? forgotten : st('u')) }));
    assert.deepEqual(commits.get(0)?.records.map((r) => r.key).sort(), ['p0:f', 'p0:unplanned']);
  });
  test('dead letters go with the key’s partition; offsets and their state record with the batch’s', () => {
    const commits = prepareCommit(
      input({
        rejected: [
          { key: 'p1:r', reason: 'bad', category: 'invalid' },
          { key: 'p0:u', reason: 'odd', category: 'unknown' },
        ],
        refusedDeletes: [{ key: 'p1:d', id: '9', reason: 'no' }],
        batches: [{ deadLetters: [{ topic: 'dlq', key: 'x', value: '{}', headers: { reason: 'empty_value' } }], offset: { topic: 'commands', partition: 0, offset: 42n } }],
      }),
    );
    const p0 = commits.get(0);
    const p1 = commits.get(1);
    assert.deepEqual(p0?.records.map((r) => r.headers?.reason ?? r.key), ['empty_value', 'defender_failed', '__writer__/applied-offset/0']);
    assert.equal(p0?.records.at(-1)?.value, JSON.stringify({ next: '42' }));
    assert.deepEqual(p0?.offsets, [{ topic: 'commands', partition: 0, offset: 42n }]);
    assert.deepEqual(p1?.records.map((r) => r.headers?.reason), ['defender_rejected', 'defender_delete_rejected']);
    assert.deepEqual(p1?.offsets, []);
  });
  test('an oversize state keeps its strongest claims and dead-letters the dropped ones', () => {
    const description = 'x'.repeat(MAX_STATE_CHARS / 4);
    const s: KeyState = { claims: foldCommands([], ['a', 'b', 'c', 'd', 'e'].map((id, i) => upsert(id, facts({ score: 50 + i, description }), NOW))) };
    const commits = prepareCommit(input({ states: new Map([['p0:big', s]]) }));
    const records = commits.get(0)?.records ?? [];
    assert.equal(records[0]?.headers?.reason, 'too_many_claims');
    const stored = commits.get(0)?.toStore.get('p0:big');
    assert.ok(stored && stored.value.length <= MAX_STATE_CHARS);
    assert.ok(stored.state.claims.length < 5 && stored.state.claims.length > 0);
  });
});
