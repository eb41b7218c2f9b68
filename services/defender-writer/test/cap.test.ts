import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CapIndex } from '../src/state/cap.ts';

const s = (score: number, at = 0) => ({ score, at });
const admitted = (cap: CapIndex, keys: string[]) => keys.filter((k) => cap.isAdmitted(k));

describe('CapIndex', () => {
  test('admits everything under the capacity', () => {
    const cap = new CapIndex(3);
    cap.set('a', s(10));
    cap.set('b', s(20));
    assert.deepEqual([...cap.settle()].sort(), ['a', 'b']);
    assert.deepEqual(admitted(cap, ['a', 'b']), ['a', 'b']);
  });
  test('keeps the strongest (score, then latest) and evicts the weakest', () => {
    const cap = new CapIndex(2);
    cap.set('a', s(10));
    cap.set('b', s(20));
    cap.settle();
    cap.confirm('a');
    cap.confirm('b');
    cap.set('c', s(15));
    assert.deepEqual([...cap.settle()].sort(), ['a', 'c']);
    assert.deepEqual(admitted(cap, ['a', 'b', 'c']), ['b', 'c']);
    cap.set('d', s(15, 5));
    cap.settle();
    assert.deepEqual(admitted(cap, ['a', 'b', 'c', 'd']), ['b', 'd']);
  });
  test('re-admits the strongest waiting key when room frees', () => {
    const cap = new CapIndex(1);
    cap.set('a', s(10));
    cap.set('b', s(50));
    cap.settle();
    assert.equal(cap.isAdmitted('b'), true);
    cap.delete('b');
    cap.settle();
    assert.equal(cap.isAdmitted('a'), true);
    assert.equal(cap.admittedCount, 1);
  });
  test('a strength change moves a key across the line', () => {
    const cap = new CapIndex(1);
    cap.set('a', s(10));
    cap.set('b', s(20));
    cap.settle();
    cap.set('a', s(90));
    cap.settle();
    assert.deepEqual(admitted(cap, ['a', 'b']), ['a']);
  });
  test('shrinking and growing the capacity (rebalance)', () => {
    const cap = new CapIndex(4);
    for (const [k, v] of [['a', 1], ['b', 2], ['c', 3], ['d', 4]] as const) cap.set(k, s(v));
    cap.settle();
    cap.setCapacity(2);
    cap.settle();
    assert.deepEqual(admitted(cap, ['a', 'b', 'c', 'd']), ['c', 'd']);
    cap.setCapacity(3);
    cap.settle();
    assert.deepEqual(admitted(cap, ['a', 'b', 'c', 'd']), ['b', 'c', 'd']);
  });
  test('dropping a revoked partition frees its admitted places for the others', () => {
    const cap = new CapIndex(2, { partitionOf: (k) => (k.startsWith('p1/') ? 1 : 0) });
    for (const [k, v] of [['p1/a', 90], ['p1/b', 80], ['c', 10], ['d', 20]] as const) cap.set(k, s(v));
    cap.settle();
    assert.deepEqual(admitted(cap, ['p1/a', 'p1/b', 'c', 'd']), ['p1/a', 'p1/b']);
    cap.dropPartition(1);
    assert.equal(cap.admittedCount, 0);
    assert.equal(cap.has('p1/a'), false);
    assert.deepEqual([...cap.settle()].sort(), ['c', 'd']);
    assert.deepEqual(admitted(cap, ['c', 'd']), ['c', 'd']);
    assert.equal(cap.size, 2);
  });
  test('dirty keys stay until confirmed', () => {
    const cap = new CapIndex(1);
    cap.set('a', s(1));
    assert.deepEqual([...cap.settle()], ['a']);
    assert.deepEqual([...cap.settle()], ['a']);
    cap.confirm('a');
    assert.deepEqual([...cap.settle()], []);
  });
  test('stays consistent under many random changes', () => {
    const cap = new CapIndex(50);
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const live = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const k = `k${Math.floor(rnd() * 300)}`;
      if (rnd() < 0.3) {
        cap.delete(k);
        live.delete(k);
      } else {
        const v = Math.floor(rnd() * 100);
        cap.set(k, s(v));
        live.set(k, v);
      }
      if (i % 10 === 0) cap.settle();
    }
    cap.settle();
    const expected = [...live.entries()]
      .sort(([ka, a], [kb, b]) => b - a || (ka < kb ? -1 : 1))
      .slice(0, 50)
      .map(([k]) => k)
      .sort();
    assert.deepEqual([...live.keys()].filter((k) => cap.isAdmitted(k)).sort(), expected);
    assert.equal(cap.admittedCount, 50);
  });
});
