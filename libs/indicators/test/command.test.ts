import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commandJsonSchema, decodeCommand, encodeCommand, MAX_COMMAND_BYTES } from '../src/index.ts';
import { COMMAND_SOURCE as source, RETRACT as retract, UPSERT as upsert } from './fixtures.ts';

function decodeJson(value: unknown) {
  return decodeCommand(Buffer.from(JSON.stringify(value)));
}

describe('command encode/decode', () => {
  it('round-trips upserts and retracts', () => {
    for (const cmd of [upsert, retract]) {
      const buf = encodeCommand(cmd);
      assert.ok(Buffer.isBuffer(buf));
      const back = decodeCommand(buf);
      assert.ok(back.ok);
      assert.deepEqual(back.value, cmd);
    }
  });

  it('decodes from a Uint8Array view into a larger buffer', () => {
    const inner = encodeCommand(retract);
    const big = Buffer.concat([Buffer.from('xxxx'), inner, Buffer.from('yyyy')]);
    const view = new Uint8Array(big.buffer, big.byteOffset + 4, inner.length);
    const back = decodeCommand(view);
    assert.ok(back.ok);
  });

  it('refuses to encode an invalid command', () => {
    assert.throws(() => encodeCommand({ ...upsert, key: 'FileSha256:other' }), /key must equal facts.type:facts.value/);
    assert.throws(() => encodeCommand({ ...retract, key: 'Email:a@b.c' }), /key must be <DefenderIndicatorType>:<value>/);
  });

  const bad: [string, unknown, string, RegExp][] = [
    ['not JSON', '{"op":', 'invalid_json', /JSON/],
    ['a JSON string', 'null', 'invalid_command', /./],
    ['another schema version', { ...retract, schemaVersion: 2 }, 'unsupported_version', /schemaVersion 2 is not 1/],
    ['an unknown op', { ...retract, op: 'delete' }, 'invalid_command', /op/],
    ['an unknown Defender type', { ...upsert, facts: { ...upsert.facts, type: 'EmailAddress' } }, 'invalid_command', /facts.type/],
    ['a score above 100', { ...upsert, facts: { ...upsert.facts, score: 101 } }, 'invalid_command', /facts.score/],
    ['a bad timestamp', { ...upsert, facts: { ...upsert.facts, validUntil: 'tomorrow' } }, 'invalid_command', /facts.validUntil/],
    ['a missing source id', { ...retract, source: { ...source, id: '' } }, 'invalid_command', /source.id/],
    ['a bad event name', { ...retract, source: { ...source, eventName: 'heartbeat' } }, 'invalid_command', /source.eventName/],
    ['a key/value mismatch', { ...upsert, key: 'FileSha256:abc' }, 'invalid_command', /key must equal/],
    ['a retract without reason', { ...retract, reason: undefined }, 'invalid_command', /reason/],
    ['an upsert without facts', { ...upsert, facts: undefined }, 'invalid_command', /facts/],
  ];
  for (const [what, input, code, message] of bad) {
    it(`rejects ${what} with ${code}`, () => {
      const r = typeof input === 'string' ? decodeCommand(Buffer.from(input)) : decodeJson(input);
      assert.ok(!r.ok);
      assert.equal(r.error.code, code);
      assert.match(r.error.message, message);
    });
  }

  it('rejects oversized input before parsing', () => {
    const r = decodeCommand(Buffer.alloc(MAX_COMMAND_BYTES + 1, 0x20));
    assert.ok(!r.ok && r.error.code === 'too_large');
  });

  it('lists field paths of invalid commands', () => {
    const r = decodeJson({ ...upsert, facts: { ...upsert.facts, score: 'high', labels: 'x' } });
    assert.ok(!r.ok);
    assert.deepEqual(r.error.issues?.map((i) => i.path).sort(), ['facts.labels', 'facts.score']);
  });

  it('exports a JSON Schema of the command', () => {
    const schema = commandJsonSchema();
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    const text = JSON.stringify(schema);
    for (const field of ['schemaVersion', 'upsert', 'retract', 'standardId', 'eventName', 'validUntil', 'CertificateThumbprint', 'left_filter']) {
      assert.ok(text.includes(field), field);
    }
  });
});
