import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, HealthServer, createRegistry } from '../src/index.ts';

test('serves /healthz, /readyz and /metrics over HTTP, readiness following its checks', async (t) => {
  const registry = createRegistry({ prefix: 'test_svc' });
  const counter = new Counter({ name: 'test_svc_events_total', help: 'events', labelNames: ['type'], registers: [registry] });
  counter.inc({ type: 'create' }, 3);
  let kafka = false;
  const server = new HealthServer({ port: 0, host: '127.0.0.1', registry })
    .readiness('kafka', () => kafka)
    .readiness('opencti', () => ({ ok: true, detail: 'connected' }))
    .liveness('loop', () => true);
  const port = await server.start();
  t.after(() => server.close());
  const base = `http://127.0.0.1:${port}`;

  const live = await fetch(`${base}/healthz`);
  assert.equal(live.status, 200);

  let ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 503);
  assert.deepEqual(await ready.json(), { status: 'unavailable', checks: { kafka: { ok: false }, opencti: { ok: true, detail: 'connected' } } });

  kafka = true;
  ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 200);
  assert.equal(((await ready.json()) as { status: string }).status, 'ok');

  server.drain();
  ready = await fetch(`${base}/readyz`);
  assert.equal(ready.status, 503);
  assert.equal(((await ready.json()) as { status: string }).status, 'draining');

  const metrics = await fetch(`${base}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(metrics.headers.get('content-type') ?? '', /text\/plain/);
  const text = await metrics.text();
  assert.match(text, /test_svc_events_total\{type="create"\} 3/);
  assert.match(text, /test_svc_process_cpu_user_seconds_total/);

  assert.equal((await fetch(`${base}/nope`)).status, 404);
  assert.equal((await fetch(`${base}/metrics`, { method: 'POST' })).status, 405);
});

test('a throwing check reports not ready with its message', async (t) => {
  const server = new HealthServer({ port: 0, host: '127.0.0.1', registry: createRegistry({ prefix: 'x' }) }).readiness('boom', () => {
    throw new Error('broker gone');
  });
  const port = await server.start();
  t.after(() => server.close());
  const res = await fetch(`http://127.0.0.1:${port}/readyz`);
  assert.equal(res.status, 503);
  assert.deepEqual(await res.json(), { status: 'unavailable', checks: { boom: { ok: false, detail: 'broker gone' } } });
});

test('a port already in use is refused with the variable to change', async (t) => {
  const registry = createRegistry({ prefix: 'test_busy' });
  const first = new HealthServer({ port: 0, host: '127.0.0.1', registry });
  const port = await first.start();
  t.after(() => first.close());
  const second = new HealthServer({ port, host: '127.0.0.1', registry });
  await assert.rejects(second.start(), { message: `port ${port} is already in use: set HTTP_PORT to a free port` });
  await second.close();
});
