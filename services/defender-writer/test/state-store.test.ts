// The local state store (SQLite + lru-cache) and the bound on one state record.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { foldCommands } from '../src/core/claims.ts';
import type { KeyState } from '../src/core/plan.ts';
import { encodeState, fitState } from '../src/core/state-codec.ts';
import { StateStore } from '../src/state/state-store.ts';
import { facts, NOW, upsert } from './helpers.ts';

const state = (n: number, applied = false): KeyState => ({
  claims: foldCommands(
    [],
    Array.from({ length: n }, (_, i) => upsert(`source-${i}`, facts({ score: i % 100, description: 'x'.repeat(200) }), NOW - 1000 + i)),
  ),
  ...(applied && { applied: { id: '42', identity: 'Block', hash: 'h', expiresAt: NOW + 1 } }),
});

describe('StateStore', () => {
  test('puts, gets (also past the cache), deletes, counts applied, drops a partition, removes its files on close', () => {
    const dir = mkdtempSync(join(tmpdir(), 'state-store-'));
    const store = new StateStore({ dir, cacheBytes: 4096, partitionOf: (k) => (k.startsWith('p1:') ? 1 : 0) });
    const file = readdirSync(dir).find((f) => f.endsWith('.sqlite'));
    assert.ok(file);
    // One journal file for every transaction, no fsync: the file is a cache of the changelog.
    assert.deepEqual({ ...store.db.prepare('PRAGMA journal_mode').get() }, { journal_mode: 'persist' });
    assert.deepEqual({ ...store.db.prepare('PRAGMA synchronous').get() }, { synchronous: 0 });
    store.transaction(() => {
      for (let i = 0; i < 50; i++) store.put(`p${i % 2}:k${i}`, state(1, i < 10));
    });
    // A 4 KiB cache holds a few states: most reads come from SQLite and decode again.
    assert.deepEqual(store.get('p0:k0'), state(1, true));
    assert.equal(store.get('p1:k49')?.claims.length, 1);
    assert.equal(store.appliedCount(), 10);
    assert.equal([...store.inDefender()].length, 10);
    store.delete('p0:k0');
    assert.equal(store.get('p0:k0'), undefined);
    store.dropPartition(1);
    assert.equal(store.get('p1:k1'), undefined);
    assert.deepEqual([...store.keys(1)], []);
    assert.equal([...store.keys(0)].length, 24);
    store.close();
    assert.equal(existsSync(join(dir, file)), false);
    // The journal too.
    assert.deepEqual(readdirSync(dir), []);
  });
  test('a key looked up before it exists is found once put, and gone again once deleted or dropped', () => {
    const store = new StateStore({ dir: ':memory:', cacheBytes: 1 << 20, partitionOf: () => 0 });
    assert.equal(store.get('k'), undefined);
    store.put('k', state(1, true));
    assert.deepEqual(store.get('k'), state(1, true));
    assert.deepEqual([...store.inDefender()].map(([key]) => key), ['k']);
    store.delete('k');
    assert.equal(store.get('k'), undefined);
    assert.equal(store.get('k'), undefined);
    store.put('k', state(2));
    assert.equal(store.get('k')?.claims.length, 2);
    store.dropPartition(0);
    assert.equal(store.get('k'), undefined);
    store.close();
  });
  test('a failed transaction, synchronous or not, leaves nothing behind', async () => {
    const store = new StateStore({ dir: ':memory:', cacheBytes: 1 << 20, partitionOf: () => 0 });
    assert.throws(() =>
      store.transaction(() => {
        store.put('k', state(1));
        throw new Error('boom');
      })
    );
    assert.equal(store.get('k'), undefined);
    assert.equal([...store.keys(0)].length, 0);
    await assert.rejects(
      store.transactionAsync(async () => {
        store.put('k', state(1));
        await Promise.resolve();
        throw new Error('boom');
      }),
    );
    assert.equal(store.get('k'), undefined);
    store.close();
  });
});

describe('fitState', () => {
  test('a state that fits is returned as is', () => {
    const s = state(3);
    assert.equal(fitState(s, 1 << 20).state, s);
  });
  test('too many claims: the weakest are dropped until the record fits, the strongest stays', () => {
    const s = state(400);
    const limit = 64 * 1024;
    assert.ok(encodeState(s).length > limit);
    const { state: fitted, dropped } = fitState(s, limit);
    assert.ok(encodeState(fitted).length <= limit);
    assert.equal(fitted.claims.length + dropped.length, 400);
    const weakestKept = Math.min(...fitted.claims.map((c) => c.facts.score ?? 0));
    const strongestDropped = Math.max(...dropped.map((c) => c.facts.score ?? 0));
    assert.ok(weakestKept >= strongestDropped);
    assert.ok(fitted.claims.some((c) => c.facts.score === 99));
  });
});
