// The status snapshot: the selected series of a real prom-client registry, each with when its value
// last changed; decoding refuses what is not a snapshot.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Gauge, Registry } from 'prom-client';
import { decodeStatusSnapshot, statusKey, takeSnapshot } from '../src/status.ts';

test('a snapshot holds the selected series only, and changedAt moves only when a value changes', async () => {
  const registry = new Registry();
  const paused = new Gauge({ name: 'x_paused', help: 'h', registers: [registry] });
  const dead = new Counter({ name: 'x_dead_total', help: 'h', labelNames: ['reason'], registers: [registry] });
  new Gauge({ name: 'x_not_selected', help: 'h', registers: [registry] }).set(5);
  dead.inc({ reason: 'a' });
  let now = 1000;
  const o = { registry, service: 'svc', instance: 'i1', info: { tenant: 't' }, metrics: ['x_paused', 'x_dead_total', 'x_absent'], intervalMs: 500, now: () => now };
  const first = await takeSnapshot(o, undefined);
  assert.deepEqual(Object.keys(first.metrics).sort(), ['x_dead_total', 'x_paused']);
  assert.deepEqual(first.metrics.x_dead_total, [{ labels: { reason: 'a' }, value: 1, changedAt: 1000 }]);
  now = 2000;
  paused.set(1);
  const second = await takeSnapshot(o, first);
  assert.deepEqual(second.metrics.x_paused, [{ labels: {}, value: 1, changedAt: 2000 }]);
  assert.equal(second.metrics.x_dead_total?.[0]?.changedAt, 1000);
  assert.equal(second.at, 2000);
  assert.deepEqual(decodeStatusSnapshot(JSON.stringify(second)), second);
  assert.equal(decodeStatusSnapshot('{"schemaVersion":1}'), undefined);
  assert.equal(decodeStatusSnapshot('not json'), undefined);
  assert.equal(statusKey('svc', 'i1'), 'svc/i1');
});
