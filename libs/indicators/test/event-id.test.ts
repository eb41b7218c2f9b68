import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareEventIds, EVENT_ID, eventTime } from '../src/event-id.ts';

test('event ids order by milliseconds, then sequence, whatever their lengths', () => {
  assert.equal(compareEventIds('10-2', '10-10'), -1);
  assert.equal(compareEventIds('11-0', '10-99'), 1);
  assert.equal(compareEventIds('10-1', '10-1'), 0);
  assert.equal(compareEventIds('999-5', '1000-0'), -1);
  assert.equal(compareEventIds('1700000000000-0', '1699999999999-12'), 1);
});

test('exact beyond 2^53: 64-bit sequence numbers are compared as digits, never rounded', () => {
  assert.equal(compareEventIds('1-18446744073709551615', '1-18446744073709551614'), 1);
  assert.equal(compareEventIds('1-99999999999999999', '1-100000000000000000'), -1);
  assert.equal(compareEventIds('9007199254740993-0', '9007199254740992-0'), 1);
});

test('ids that are not <ms>-<seq> sort first', () => {
  assert.equal(compareEventIds('x', '10-1'), -1);
  assert.equal(compareEventIds('10-1', ''), 1);
  assert.equal(compareEventIds('x', 'y'), 0);
  assert.equal(compareEventIds('10-1-2', '0-0'), -1);
  // As Redis reads them: <ms> alone is <ms>-0.
  assert.equal(compareEventIds('0', '0-0'), 0);
  assert.equal(compareEventIds('10', '10-1'), -1);
  assert.equal(compareEventIds('11', '10-5'), 1);
  assert.ok(EVENT_ID.test('0-0') && !EVENT_ID.test('-1') && !EVENT_ID.test('1-') && !EVENT_ID.test('a-1'));
});

test('antisymmetric and transitive over a sample', () => {
  const ids = ['0-0', '0-1', '1-0', '9-99', '10-0', '10-2', '10-10', '100-0', '1-18446744073709551615', 'bad'];
  for (const a of ids) for (const b of ids) assert.equal(compareEventIds(a, b), -compareEventIds(b, a) || 0);
  const sorted = [...ids].sort(compareEventIds);
  assert.deepEqual(sorted, ['bad', '0-0', '0-1', '1-0', '1-18446744073709551615', '9-99', '10-0', '10-2', '10-10', '100-0']);
});

test('eventTime: the milliseconds of <ms>-<seq>; undefined when not one or not a printable date', () => {
  assert.equal(eventTime('1700000000000-3'), 1700000000000);
  assert.equal(eventTime('253402300799999-0'), 253_402_300_799_999);
  assert.equal(eventTime('9999999999999999-0'), undefined);
  assert.equal(eventTime('1700000000000'), undefined);
  assert.equal(eventTime('oops'), undefined);
});
