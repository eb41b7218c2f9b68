import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deadLetterRecord, decodeDeadLetter, MAX_DEAD_LETTER_RAW, type DeadLetter } from '@octi-defender/kafka';

const at = new Date('2026-12-01T10:00:00.000Z');
const value = (r: { value: Buffer | string | null }): Record<string, unknown> => JSON.parse(String(r.value)) as Record<string, unknown>;

test('a listener letter: keyed by stream and event, the event and its raw text', () => {
  const r = deadLetterRecord('dlq', { origin: 'stream-listener', reason: 'invalid_json', detail: 'bad', event: { streamId: 's', eventId: '1-0', eventName: 'create' }, raw: '{', at });
  assert.equal(r.topic, 'dlq');
  assert.equal(r.key, 's:1-0');
  assert.deepEqual(r.headers, { origin: 'stream-listener', reason: 'invalid_json' });
  assert.deepEqual(value(r), {
    origin: 'stream-listener',
    reason: 'invalid_json',
    detail: 'bad',
    streamId: 's',
    eventId: '1-0',
    eventName: 'create',
    raw: '{',
    truncated: false,
    at: '2026-12-01T10:00:00.000Z',
  });
  assert.equal(deadLetterRecord('dlq', { origin: 'stream-listener', reason: 'r', detail: '', event: { streamId: 's', eventId: '', eventName: 'x' }, raw: '', at }).key, 's:no-id');
});

test('a skipped event: its size and entity, and a head that is truncated however short', () => {
  const r = deadLetterRecord('dlq', {
    origin: 'stream-listener',
    reason: 'oversized_event',
    detail: 'd',
    event: { streamId: 's', eventId: '1-0', eventName: 'create', size: 9e6, entityType: 'Indicator', entityId: 'i' },
    raw: 'head',
    partial: true,
    at,
  });
  assert.deepEqual(value(r), {
    origin: 'stream-listener',
    reason: 'oversized_event',
    detail: 'd',
    streamId: 's',
    eventId: '1-0',
    eventName: 'create',
    size: 9e6,
    entityType: 'Indicator',
    entityId: 'i',
    raw: 'head',
    truncated: true,
    at: '2026-12-01T10:00:00.000Z',
  });
});

test('raw is cut at MAX_DEAD_LETTER_RAW and marked truncated; at the limit it is whole', () => {
  const whole = value(deadLetterRecord('dlq', { origin: 'defender-writer', reason: 'r', detail: '', key: 'k', raw: 'x'.repeat(MAX_DEAD_LETTER_RAW), at }));
  assert.equal((whole.raw as string).length, MAX_DEAD_LETTER_RAW);
  assert.equal(whole.truncated, false);
  const cut = value(deadLetterRecord('dlq', { origin: 'defender-writer', reason: 'r', detail: '', key: 'k', raw: 'x'.repeat(MAX_DEAD_LETTER_RAW + 1), at }));
  assert.equal((cut.raw as string).length, MAX_DEAD_LETTER_RAW);
  assert.equal(cut.truncated, true);
  // Far under the broker's default message.max.bytes (1 MiB) even when every character needs escaping.
  const worst = deadLetterRecord('dlq', { origin: 'defender-writer', reason: 'r', detail: '', key: 'k', raw: '\u0000'.repeat(2 * MAX_DEAD_LETTER_RAW), at });
  assert.ok(Buffer.byteLength(worst.value as string) < 512 * 1024);
});

test('a writer letter: the indicator key, or the source record when there is none', () => {
  const keyed = deadLetterRecord('dlq', { origin: 'defender-writer', reason: 'defender_rejected', detail: '400: no', key: 'IpAddress:1.2.3.4', at });
  assert.equal(keyed.key, 'IpAddress:1.2.3.4');
  assert.deepEqual(value(keyed), { origin: 'defender-writer', reason: 'defender_rejected', detail: '400: no', key: 'IpAddress:1.2.3.4', at: '2026-12-01T10:00:00.000Z' });
  const unkeyed = deadLetterRecord('dlq', { origin: 'defender-writer', reason: 'empty_value', detail: 'record has no value', key: null, source: { topic: 'cmds', partition: 2, offset: '17' }, at });
  assert.equal(unkeyed.key, 'cmds:2:17');
  assert.deepEqual(value(unkeyed), {
    origin: 'defender-writer',
    reason: 'empty_value',
    detail: 'record has no value',
    key: null,
    topic: 'cmds',
    partition: 2,
    offset: '17',
    at: '2026-12-01T10:00:00.000Z',
  });
  assert.equal(deadLetterRecord('dlq', { origin: 'defender-writer', reason: 'r', detail: '', at }).key, '::');
});

test('decode: what the builder wrote comes back', () => {
  const r = deadLetterRecord('dlq', { origin: 'defender-writer', reason: 'invalid_command', detail: 'd', key: null, source: { topic: 'cmds', partition: 1, offset: '4' }, raw: '{"op"', at });
  const expected: DeadLetter = {
    origin: 'defender-writer',
    reason: 'invalid_command',
    detail: 'd',
    key: null,
    topic: 'cmds',
    partition: 1,
    offset: '4',
    raw: '{"op"',
    truncated: false,
    at: '2026-12-01T10:00:00.000Z',
  };
  assert.deepEqual(decodeDeadLetter(Buffer.from(r.value as string)), { ok: true, letter: expected });
  assert.deepEqual(decodeDeadLetter(r.value as string), { ok: true, letter: expected });
});

test('decode: fields of the wrong type are dropped; origin and reason fall back on the headers', () => {
  const d = decodeDeadLetter(JSON.stringify({ detail: 3, key: 5, partition: '1', raw: {}, truncated: 'yes', at: 7 }), { origin: Buffer.from('stream-listener'), reason: 'bad' });
  assert.deepEqual(d, { ok: true, letter: { origin: 'stream-listener', reason: 'bad', detail: '', at: '' } });
  assert.deepEqual(decodeDeadLetter('{}'), { ok: true, letter: { origin: 'unknown', reason: 'unknown', detail: '', at: '' } });
});

test('decode: an empty record, not JSON, not an object', () => {
  assert.deepEqual(decodeDeadLetter(null), { ok: false, why: 'empty record' });
  assert.match((decodeDeadLetter('{') as { why: string }).why, /^not JSON: /);
  assert.deepEqual(decodeDeadLetter('42'), { ok: false, why: 'not JSON: not an object' });
  assert.deepEqual(decodeDeadLetter('null'), { ok: false, why: 'not JSON: not an object' });
});
