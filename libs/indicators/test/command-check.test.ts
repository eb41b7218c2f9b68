import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommandSchema, DEFENDER_INDICATOR_TYPES, encodeCommand, isValidCommand, RETRACT_REASONS } from '../src/index.ts';
import { RETRACT, SHA256, UPSERT } from './fixtures.ts';

// isValidCommand must say exactly what CommandSchema says: every field of an upsert and of a
// retract is replaced, one at a time, by each value of a set covering every rule of the schema
// (type, emptiness, bounds, enums, dates, the key's shape and its agreement with the facts), and
// the field is also removed; both must accept or refuse each result alike.

type Json = Record<string, unknown>;
const upsert: Json = UPSERT;
const retract: Json = RETRACT;
const facts = UPSERT.facts;

const DATES = [
  '2026-01-10T08:00:00.000Z',
  '2026-01-10T08:00:00Z',
  '2026-01-10T08:00:00.1Z',
  '2026-01-10T08:00:00.123456789Z',
  '2026-01-10T08:00:00+02:00',
  '2026-01-10T08:00:00-11:30',
  '2026-01-10T08:00:00.000+0200',
  '2026-01-10T08:00:00',
  '2026-01-10T08:00Z',
  '2026-01-10 08:00:00Z',
  '2026-01-10t08:00:00z',
  '2024-02-29T00:00:00Z',
  '2026-02-29T00:00:00Z',
  '2000-02-29T00:00:00Z',
  '1900-02-29T00:00:00Z',
  '2026-04-31T00:00:00Z',
  '2026-12-31T23:59:59Z',
  '2026-13-01T00:00:00Z',
  '2026-01-10T24:00:00Z',
  '2026-01-10T08:60:00Z',
  '2026-01-10T08:00:60Z',
  '2026-01-10T08:00:00+24:00',
  '+010000-01-01T00:00:00.000Z',
  '2026-01-10',
  ' 2026-01-10T08:00:00Z',
  '2026-01-10T08:00:00Z\n',
];

// Values that cover every rule: wrong types, empty and boundary strings and numbers, enum members and non-members.
const VALUES: unknown[] = [
  undefined,
  null,
  '',
  'x',
  'ab',
  ' ',
  0,
  1,
  2,
  -1,
  -0.0001,
  0.5,
  99.9,
  100,
  100.0001,
  101,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  true,
  false,
  [],
  ['a'],
  ['a', 'b'],
  [1],
  ['a', null],
  {},
  { a: 1 },
  '1',
  new Date(0),
  ...DATES,
  ...DEFENDER_INDICATOR_TYPES,
  'Email',
  'filesha256',
  'create',
  'update',
  'delete',
  'merge',
  'Create',
  'heartbeat',
  'TLP:CLEAR',
  'TLP:WHITE',
  'TLP:GREEN',
  'TLP:AMBER',
  'TLP:AMBER+STRICT',
  'TLP:RED',
  'tlp:red',
  ...RETRACT_REASONS,
  'stale',
  'upsert',
  'retract',
  'resync',
  'IpAddress:8.8.8.8',
  `FileSha256:${SHA256}`,
  'FileSha256:other',
  'Email:a@b.c',
  'IpAddress:',
  ':8.8.8.8',
  'IpAddress',
  'a:b',
  'Url:x',
  SHA256,
  '8.8.8.8',
];

/** Every command obtained from `base` by setting one field (at any depth) to one of VALUES, or removing it. */
function* variants(base: Json): Generator<unknown> {
  for (const field of Object.keys(base)) {
    const current = base[field];
    for (const v of VALUES) {
      if (v === undefined) {
        const { [field]: _removed, ...rest } = base;
        yield rest;
      } else yield { ...base, [field]: v };
    }
    if (typeof current === 'object' && current !== null && !Array.isArray(current)) {
      for (const inner of variants(current as Json)) yield { ...base, [field]: inner };
    }
  }
}

function agree(cmd: unknown): void {
  const zod = CommandSchema.safeParse(cmd).success;
  assert.equal(isValidCommand(cmd), zod, `isValidCommand and CommandSchema disagree (zod: ${zod}) on ${JSON.stringify(cmd)}`);
}

describe('isValidCommand', () => {
  it('accepts the valid commands', () => {
    assert.equal(isValidCommand(upsert), true);
    assert.equal(isValidCommand(retract), true);
  });

  it('agrees with CommandSchema on every single-field change of an upsert and a retract', () => {
    let refused = 0;
    let total = 0;
    for (const base of [upsert, retract]) {
      for (const cmd of variants(base)) {
        agree(cmd);
        total++;
        if (!isValidCommand(cmd)) refused++;
      }
    }
    // Both outcomes are exercised, in numbers: the set is not all-accepted or all-refused.
    assert.ok(total > 3000 && refused > total / 2 && refused < total, `${refused} refused of ${total}`);
  });

  it("agrees with CommandSchema on the optional redrive field (an operator's redrive of a dead letter)", () => {
    assert.equal(isValidCommand({ ...upsert, redrive: '1:42' }), true);
    assert.equal(isValidCommand({ ...retract, redrive: '1:42' }), true);
    for (const base of [upsert, retract]) for (const v of VALUES) if (v !== undefined) agree({ ...base, redrive: v });
  });

  it('agrees with CommandSchema when the key and the facts change together', () => {
    const values = ['8.8.8.8', SHA256, 'x', '', 'a:b'];
    for (const type of [...DEFENDER_INDICATOR_TYPES, 'Email']) {
      for (const value of values) {
        for (const key of [`${type}:${value}`, `${type}:${value}x`, `${type}::${value}`, `IpAddress:${value}`]) {
          agree({ ...upsert, key, facts: { ...facts, type, value } });
          agree({ ...retract, key });
        }
      }
    }
  });

  it('agrees with CommandSchema on things that are not commands', () => {
    for (const v of [...VALUES, [upsert], { ...upsert, op: undefined }, Object.create(upsert) as unknown]) agree(v);
  });

  it("keeps encodeCommand refusing what the schema refuses, with the schema's wording", () => {
    assert.throws(() => encodeCommand({ ...UPSERT, facts: { ...facts, score: 101 } }), /facts\.score: /);
  });
});
