// The status snapshot: the selected series of a real prom-client registry, each with when its value
// last changed; decoding refuses what is not a snapshot.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Gauge, Registry } from 'prom-client';
import { createLogger } from '../src/logger.ts';
import { decodeStatusSnapshot, startStatusPublisher, statusKey, takeSnapshot, type StatusSink } from '../src/status.ts';

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

test('the publisher sends snapshots under service/instance and a tombstone on stop; a sink that never answers does not hold the stop', async () => {
  const registry = new Registry();
  new Gauge({ name: 'x_up', help: 'h', registers: [registry] }).set(1);
  const logger = createLogger({ name: 'test', level: 'silent' });
  const sent: [string, string | null][] = [];
  let closed = false;
  const sink: StatusSink = { send: (k, v) => (sent.push([k, v]), Promise.resolve()), close: () => ((closed = true), Promise.resolve()) };
  const p = startStatusPublisher({ registry, service: 'svc', instance: 'i1', info: {}, metrics: ['x_up'], intervalMs: 20, sink, logger });
  while (sent.length < 2) await new Promise((r) => setTimeout(r, 10));
  await p.stop();
  assert.ok(sent.every(([k]) => k === 'svc/i1'));
  assert.equal(decodeStatusSnapshot(sent[0]![1]!)?.metrics.x_up?.[0]?.value, 1);
  assert.deepEqual(sent.at(-1), ['svc/i1', null]);
  assert.equal(closed, true);

  const hanging: StatusSink = { send: () => new Promise(() => undefined), close: () => new Promise(() => undefined) };
  const h = startStatusPublisher({ registry, service: 'svc', instance: 'i2', info: {}, metrics: ['x_up'], intervalMs: 1000, sink: hanging, logger, stopWaitMs: 50 });
  await h.stop();
});
