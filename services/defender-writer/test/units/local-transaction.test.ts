import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CapIndex } from '../../src/state/cap.ts';
import { foldCommands } from '../../src/core/claims.ts';
import type { KeyState } from '../../src/core/plan.ts';
import { StateStore } from '../../src/state/state-store.ts';
import { LocalTransaction } from '../../src/state/local-transaction.ts';
import { facts, NOW, upsert } from '../helpers.ts';

function local() {
  const store = new StateStore({ dir: ':memory:', cacheBytes: 1 << 20, partitionOf: () => 0 });
  const cap = new CapIndex(1, { db: store.db });
  return { store, cap };
}
const state = (id: string): KeyState => ({ claims: foldCommands([], [upsert(id, facts({ score: 50 }), NOW)]) });

describe('LocalTransaction', () => {
  test('rolled back: the store, its cache and the cap are as they were', () => {
    const { store, cap } = local();
    store.put('a', state('x'));
    cap.set('a', { score: 10, at: 0 });
    cap.settle();
    const tx = LocalTransaction.begin(store, cap);
    store.put('a', state('y'));
    store.put('b', state('z'));
    cap.set('b', { score: 20, at: 0 });
    cap.settle();
    assert.equal(cap.isAdmitted('b'), true);
    assert.equal(cap.isAdmitted('a'), false);
    assert.equal(store.get('b')?.claims[0]?.sourceId, 'z');
    tx.rollback();
    assert.equal(store.get('a')?.claims[0]?.sourceId, 'x');
    assert.equal(store.get('b'), undefined);
    assert.equal(cap.isAdmitted('a'), true);
    assert.equal(cap.isAdmitted('b'), false);
    assert.equal(cap.has('b'), false);
    assert.deepEqual([...cap.settle()], ['a'], 'the dirty set is back too');
    store.close();
  });
  test('committed: the changes stay, and a later rollback does not undo them', () => {
    const { store, cap } = local();
    const tx = LocalTransaction.begin(store, cap);
    store.put('a', state('x'));
    cap.set('a', { score: 10, at: 0 });
    cap.settle();
    tx.commit();
    tx.rollback();
    assert.equal(store.get('a')?.claims[0]?.sourceId, 'x');
    assert.equal(cap.isAdmitted('a'), true);
    store.close();
  });
  test('a partition is never dropped inside a transaction (its rollback would bring it back)', () => {
    const { store, cap } = local();
    const tx = LocalTransaction.begin(store, cap);
    assert.throws(() => store.dropPartition(0), /inside a local transaction/);
    assert.throws(() => cap.dropPartition(0), /inside a local transaction/);
    tx.rollback();
    store.close();
  });
});
