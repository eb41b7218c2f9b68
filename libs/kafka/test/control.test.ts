import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONTROL_SCHEMA_VERSION, decodeControl, encodeControl, expired, replayPosition, type ControlReply, type ControlRequest } from '../src/control.ts';

const request: ControlRequest = {
  schemaVersion: CONTROL_SCHEMA_VERSION,
  kind: 'request',
  requestId: 'r1',
  action: 'replay',
  stream: 's1',
  from: '1700000000000-0',
  at: '2026-01-01T00:00:00.000Z',
  expiresAt: '2026-01-01T00:10:00.000Z',
};

test('requests and replies survive encoding; what is not a control record of this version is refused', () => {
  assert.deepEqual(decodeControl(Buffer.from(encodeControl(request))), request);
  const reply: ControlReply = {
    schemaVersion: 1,
    kind: 'reply',
    requestId: 'r1',
    action: 'replay',
    status: 'done',
    service: 'stream-listener',
    instance: 'h-1',
    stream: 's1',
    detail: 'replayed',
    data: { position: '1-0' },
    at: request.at,
  };
  assert.deepEqual(decodeControl(encodeControl(reply)), reply);
  assert.equal(decodeControl(null), undefined);
  assert.equal(decodeControl('not json'), undefined);
  assert.equal(decodeControl(encodeControl({ ...request, schemaVersion: 2 })), undefined);
  assert.equal(decodeControl(encodeControl({ ...request, from: '2026-01-01' })), undefined, 'a replay position is an event id');
  const { stream: _s, ...noStream } = request;
  assert.equal(decodeControl(JSON.stringify(noStream)), undefined, 'a replay names its stream');
  assert.equal(decodeControl(encodeControl({ ...reply, status: 'maybe' as never })), undefined);
  assert.equal(decodeControl(encodeControl({ ...request, action: 'reconcile', stream: undefined, from: undefined })) !== undefined, true, 'reconcile needs no stream');
});

test('expiry and replay positions from what an operator types', () => {
  assert.equal(expired(request, new Date('2026-01-01T00:09:59Z')), false);
  assert.equal(expired(request, new Date('2026-01-01T00:10:01Z')), true);
  assert.equal(replayPosition('0'), '0-0');
  assert.equal(replayPosition('1700000000000-7'), '1700000000000-7');
  assert.equal(replayPosition('2026-01-02T03:04:05.006Z'), `${Date.parse('2026-01-02T03:04:05.006Z')}-0`);
  assert.equal(replayPosition('2026-01-02'), `${Date.parse('2026-01-02')}-0`);
  assert.equal(replayPosition('yesterday'), undefined);
  assert.equal(replayPosition('2026-13-45'), undefined);
});
