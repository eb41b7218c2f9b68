// Pure parts of the operator requests and the OpenCTI connector: replay and resync checkpoints,
// their completion, the connector state and how the platform's answer is read.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Checkpoint } from '../src/checkpoint.ts';
import { connectorState, judgePing, resetAtRegistration } from '../src/connector-state.ts';
import type { StreamPosition } from '../src/listener.ts';
import { newResync } from '../src/resync.ts';
import { RefusedChange, replayCheckpoint, replayGoal, replayReached, resetTarget, resyncCheckpoint, resyncFinished } from '../src/rewind.ts';

const now = new Date('2026-03-01T12:00:00.000Z');
const cp: Checkpoint = { streamId: 's', lastEventId: '1700000005000-0', seen: '1700000009000-2', recoverUntil: '2026-01-01T00:00:00.000Z', startFrom: '0-0', resyncRequest: 'env-1', updatedAt: '' };

test('a replay moves the checkpoint back, keeps what was seen and the remembered requests, and never forward', () => {
  const back = replayCheckpoint('s', cp, { from: '1700000001000-0' }, { startFrom: undefined, now });
  assert.deepEqual(back, { streamId: 's', lastEventId: '1700000001000-0', seen: '1700000009000-2', startFrom: '0-0', resyncRequest: 'env-1', updatedAt: now.toISOString() });
  const recovering = replayCheckpoint('s', cp, { from: '0-0', recoverUntil: now.toISOString() }, { startFrom: undefined, now });
  assert.equal(recovering.recoverUntil, now.toISOString());
  assert.throws(() => replayCheckpoint('s', cp, { from: '1700000006000-0' }, { startFrom: undefined, now }), RefusedChange);
  assert.throws(() => replayCheckpoint('s', { ...cp, resync: newResync('operator', now) }, { from: '0-0' }, { startFrom: undefined, now }), /resyncing/);
  // No checkpoint yet: the configured start is remembered so it is not applied on top.
  assert.equal(replayCheckpoint('s', undefined, { from: '5-0' }, { startFrom: '2026-01-01T00:00:00Z', now }).startFrom, '2026-01-01T00:00:00Z');
});

test('a reset restarts from the configured start, with recover unless disabled (pycti)', () => {
  assert.deepEqual(resetTarget({ startFrom: undefined, recover: true }, now), { from: '0-0', recoverUntil: now.toISOString() });
  assert.deepEqual(resetTarget({ startFrom: '2026-02-01T00:00:00Z', recover: false }, now), { from: `${Date.parse('2026-02-01T00:00:00Z')}-0` });
  assert.deepEqual(resetTarget({ startFrom: '1700000000000-3', recover: true }, now), { from: '1700000000000-3', recoverUntil: now.toISOString() });
});

test('a resync is recorded in the checkpoint; refused before the first checkpoint and while one runs', () => {
  const r = newResync('operator', now);
  assert.deepEqual(resyncCheckpoint('s', cp, r, now), { ...cp, resync: r, updatedAt: now.toISOString() });
  assert.throws(() => resyncCheckpoint('s', undefined, r, now), /no checkpoint yet/);
  assert.throws(() => resyncCheckpoint('s', { ...cp, resync: r }, r, now), /resyncing already/);
});

const position = (checkpoint: Checkpoint | undefined, resync?: StreamPosition['resync']): StreamPosition => ({
  streamId: 's',
  checkpoint,
  resumeFrom: checkpoint?.lastEventId,
  recoverUntil: undefined,
  resync,
});

test('completion: a replay once back where it was (and past its recover point), a resync once its epoch is gone', () => {
  const goal = replayGoal(cp, { from: '0-0', recoverUntil: '2026-03-01T12:00:00.000Z' });
  assert.equal(goal, `${Date.parse('2026-03-01T12:00:00.000Z')}-0`);
  assert.equal(replayGoal(cp, { from: '1700000001000-0' }), cp.lastEventId);
  assert.equal(replayReached(position({ ...cp, lastEventId: '1700000004999-0' }), cp.lastEventId), false);
  assert.equal(replayReached(position(cp), cp.lastEventId), true);
  assert.equal(replayReached(undefined, cp.lastEventId), false);
  const r = newResync('operator', now);
  assert.equal(resyncFinished(position({ ...cp, resync: r }, r), r.epoch), false);
  assert.equal(resyncFinished(position(cp, r), r.epoch), false);
  assert.equal(resyncFinished(position(cp), r.epoch), true);
  assert.equal(resyncFinished(undefined, r.epoch), false);
});

test('connector state: pycti’s stream state of the checkpoint, every stream listed when several', () => {
  assert.equal(connectorState([position(cp)]), JSON.stringify({ start_from: cp.lastEventId, recover_until: cp.recoverUntil }));
  const fresh: StreamPosition = { streamId: 't', checkpoint: undefined, resumeFrom: '0-0', recoverUntil: undefined, resync: undefined };
  assert.deepEqual(JSON.parse(connectorState([fresh])), { start_from: '0-0', recover_until: false });
  assert.deepEqual(JSON.parse(connectorState([position(cp), fresh])), {
    start_from: cp.lastEventId,
    recover_until: cp.recoverUntil,
    streams: { s: { start_from: cp.lastEventId, recover_until: cp.recoverUntil }, t: { start_from: '0-0', recover_until: false } },
  });
});

test('reading the platform’s answer: a reset is the empty state, once', () => {
  assert.equal(judgePing('{"a":1}', '{"a":1}', false), 'in-sync');
  assert.equal(judgePing('{"a":1}', '', false), 'reset');
  assert.equal(judgePing('{"a":1}', '', true), 'echo');
  assert.equal(judgePing('{"a":1}', '{"a":2}', false), 'other');
  assert.equal(resetAtRegistration(null), false, 'a new connector has no state');
  assert.equal(resetAtRegistration(''), true);
  assert.equal(resetAtRegistration('{"start_from":"1-0"}'), false);
});
