import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ControlReply } from '@octi-defender/kafka';
import { EXIT, listenerVerdict, reconcileVerdict } from '../src/control-progress.ts';

const at = '2026-03-01T12:00:00.000Z';
const t0 = Date.parse(at);
function reply(over: Partial<ControlReply>): ControlReply {
  return { schemaVersion: 1, kind: 'reply', requestId: 'r', action: 'reconcile', status: 'accepted', service: 'defender-writer', instance: 'w1', tenant: 'a', detail: '', at, ...over };
}

test('a listener request ends with the listener’s final answer', () => {
  const l = (status: ControlReply['status']): ControlReply => reply({ action: 'resync', service: 'stream-listener', status, tenant: undefined });
  assert.deepEqual(listenerVerdict([]), { finished: false });
  assert.deepEqual(listenerVerdict([l('accepted'), l('progress')]), { finished: false });
  assert.deepEqual(listenerVerdict([l('accepted'), l('done')]), { finished: true, exit: EXIT.ok });
  assert.deepEqual(listenerVerdict([l('refused')]), { finished: true, exit: EXIT.attention });
  assert.deepEqual(listenerVerdict([l('failed')]), { finished: true, exit: EXIT.attention });
});

test('a reconciliation ends when every writer that accepted is done, after the settle time, and is complete only when the partitions are covered', () => {
  const opts = { partitionCount: 4, now: t0 + 5000, settleMs: 2000 };
  const w1 = [reply({}), reply({ status: 'done', data: { partitions: [0, 1] } })];
  const w2 = [reply({ instance: 'w2' }), reply({ instance: 'w2', status: 'done', data: { partitions: [2, 3] } })];
  assert.deepEqual(reconcileVerdict([], opts), { finished: false });
  assert.deepEqual(reconcileVerdict([...w1, w2[0]!], opts), { finished: false }, 'w2 still working');
  assert.deepEqual(reconcileVerdict([...w1, ...w2], { ...opts, now: t0 + 1000 }), { finished: false }, 'a late writer may still answer');
  assert.deepEqual(reconcileVerdict([...w1, ...w2], opts), { finished: true, exit: EXIT.ok, summary: 'reconciled: tenant(s) a, every partition' });
  const partial = reconcileVerdict(w1, opts);
  assert.equal(partial.exit, EXIT.attention);
  assert.match(partial.summary ?? '', /tenant a: partitions 2,3 not reconciled/);
  const failed = reconcileVerdict([...w1, w2[0]!, reply({ instance: 'w2', status: 'failed' })], opts);
  assert.equal(failed.exit, EXIT.attention);
  assert.match(failed.summary ?? '', /a w2 failed/);
  // Two tenants, each covered by its own writers.
  const b = [reply({ tenant: 'b', instance: 'b1' }), reply({ tenant: 'b', instance: 'b1', status: 'done', data: { partitions: [0, 1, 2, 3] } })];
  assert.deepEqual(reconcileVerdict([...w1, ...w2, ...b], opts), { finished: true, exit: EXIT.ok, summary: 'reconciled: tenant(s) a, b, every partition' });
});
