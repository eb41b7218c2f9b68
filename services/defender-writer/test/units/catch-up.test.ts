import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decideCatchUp } from '../../src/core/catch-up.ts';
import { CatchUp } from '../../src/tasks/catch-up.ts';

const p = (behind: number, at = 0) => ({ behind: BigInt(behind), at });
const base = { lag: 1000, maxMs: 60_000 };

describe('decideCatchUp', () => {
  test('enters above the lag, not at it', () => {
    assert.equal(decideCatchUp({ ...base, now: 10, since: undefined, partitions: [p(1001)] }), 'enter');
    assert.equal(decideCatchUp({ ...base, now: 10, since: undefined, partitions: [p(1000), p(3)] }), 'off');
  });
  test('the partition furthest behind decides', () => {
    assert.equal(decideCatchUp({ ...base, now: 10, since: undefined, partitions: [p(2), p(5000), p(0)] }), 'enter');
  });
  test('once in, stays until within a tenth of the lag', () => {
    assert.equal(decideCatchUp({ ...base, now: 10, since: 0, partitions: [p(101)] }), 'stay');
    assert.equal(decideCatchUp({ ...base, now: 10, since: 0, partitions: [p(100)] }), 'end');
  });
  test('ends when the window ran out, however far behind', () => {
    assert.equal(decideCatchUp({ ...base, now: 60_000, since: 0, partitions: [p(9999, 59_999)] }), 'end');
    assert.equal(decideCatchUp({ ...base, now: 59_999, since: 0, partitions: [p(9999, 59_999)] }), 'stay');
  });
  test('a measure no batch refreshed for a whole window is ignored', () => {
    assert.equal(decideCatchUp({ ...base, now: 70_000, since: undefined, partitions: [p(9999, 10_000)] }), 'off');
    assert.equal(decideCatchUp({ ...base, now: 70_000, since: undefined, partitions: [p(9999, 10_001)] }), 'enter');
  });
  test('a lag of 0 never catches up', () => {
    assert.equal(decideCatchUp({ lag: 0, maxMs: 60_000, now: 1, since: undefined, partitions: [p(1e9)] }), 'off');
  });
});

describe('CatchUp', () => {
  test('enters, defers, ends once, and calls ended only when one was running', () => {
    let ended = 0;
    let expired = 0;
    const c = new CatchUp({ lag: 10, maxMs: 60_000, ended: () => ended++, expired: () => expired++ });
    assert.equal(c.deferring(0, [p(11)]), true);
    assert.equal(c.active, true);
    assert.equal(c.deferring(1, [p(2, 1)]), true);
    assert.equal(c.deferring(2, [p(1, 2)]), false);
    assert.equal(c.active, false);
    assert.equal(ended, 1);
    assert.equal(c.end(), false);
    assert.equal(ended, 1);
    c.close();
    assert.equal(expired, 0);
  });
  test('the window running out with no batch calls expired', async () => {
    let expired = 0;
    const c = new CatchUp({ lag: 10, maxMs: 20, ended: () => undefined, expired: () => expired++ });
    c.deferring(0, [p(11)]);
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(expired, 1);
    c.close();
  });
});
