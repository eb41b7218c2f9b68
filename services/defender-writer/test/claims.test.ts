import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eventTime, foldCommand, foldCommands, strongest, type Claim } from '../src/core/claims.ts';
import { NOW, facts, retract, upsert } from './helpers.ts';

const KEY = 'IpAddress:203.0.113.7';

describe('event ids', () => {
  test('time from <ms>-<seq>, 0 when malformed', () => {
    assert.equal(eventTime('1700000000000-3'), 1700000000000);
    assert.equal(eventTime('oops'), 0);
  });
});

describe('folding commands', () => {
  test('upserts from two sources make two claims', () => {
    const c = foldCommands([], [upsert('a', facts()), upsert('b', facts({ score: 20 }))]);
    assert.deepEqual(c.map((x) => x.sourceId), ['a', 'b']);
  });
  test('an upsert replaces its own source claim', () => {
    const c = foldCommands([], [upsert('a', facts({ score: 10 }), NOW - 10), upsert('a', facts({ score: 90 }), NOW - 5)]);
    assert.equal(c.length, 1);
    assert.equal(c[0]?.facts.score, 90);
    assert.equal(c[0]?.at, NOW - 5);
  });
  test('a retract removes only its source', () => {
    const c = foldCommands([], [upsert('a', facts()), upsert('b', facts()), retract('a', KEY)]);
    assert.deepEqual(c.map((x) => x.sourceId), ['b']);
  });
  test('a retract of an unknown source changes nothing (same array)', () => {
    const before = foldCommands([], [upsert('a', facts())]);
    assert.equal(foldCommand(before, retract('zzz', KEY)), before);
  });
  test('replays older than the claim are ignored (same stream)', () => {
    const c = foldCommands([], [upsert('a', facts({ score: 90 }), NOW - 5)]);
    assert.equal(foldCommand(c, upsert('a', facts({ score: 1 }), NOW - 10)), c);
    assert.equal(foldCommand(c, retract('a', KEY, NOW - 10)), c);
  });
  test('re-applying the same command is idempotent', () => {
    const cmd = upsert('a', facts());
    const once = foldCommands([], [cmd]);
    assert.deepEqual(foldCommand(once, cmd), once);
  });
});

describe('strongest claim', () => {
  const claim = (id: string, score: number | null, at: number, seq = 0): Claim => ({
    sourceId: id,
    streamId: 'live',
    eventId: `${at}-${seq}`,
    at,
    facts: facts({ score }),
  });
  test('highest score wins', () => assert.equal(strongest([claim('a', 50, 2), claim('b', 70, 1)])?.sourceId, 'b'));
  test('then the latest', () => assert.equal(strongest([claim('a', 50, 2), claim('b', 50, 1)])?.sourceId, 'a'));
  test('then the later seq', () => assert.equal(strongest([claim('a', 50, 2, 1), claim('b', 50, 2, 3)])?.sourceId, 'b'));
  test('full ties go to the smaller source id, whatever the order', () => {
    assert.equal(strongest([claim('b', 50, 2), claim('a', 50, 2)])?.sourceId, 'a');
    assert.equal(strongest([claim('a', 50, 2), claim('b', 50, 2)])?.sourceId, 'a');
  });
  test('missing score counts as 0', () => assert.equal(strongest([claim('a', null, 9), claim('b', 1, 1)])?.sourceId, 'b'));
  test('none for no claims', () => assert.equal(strongest([]), undefined));
});

describe('replays and odd event ids', () => {
  test('the same event again leaves the claims array as it was; other facts under the same id replace it', () => {
    const first = foldCommand([], upsert('a', facts({ score: 50 })));
    assert.equal(foldCommand(first, upsert('a', facts({ score: 50 }))), first);
    const changed = foldCommand(first, upsert('a', facts({ score: 80 })));
    assert.notEqual(changed, first);
    assert.equal(changed[0]?.facts.score, 80);
  });
  test('an event time past the last printable date counts as the oldest', () => {
    assert.equal(eventTime('9999999999999999-0'), 0);
    assert.equal(eventTime('253402300799999-0'), 253_402_300_799_999);
  });
});
