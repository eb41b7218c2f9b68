import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { createLogger, createRegistry, HealthServer, serve } from '../src/index.ts';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function logger(lines: string[]) {
  return createLogger({ name: 't', destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }) });
}

test('serve: probes first, then the service; shutdown drains, stops progress, runs the steps, closes HTTP last', async () => {
  const lines: string[] = [];
  const order: string[] = [];
  const codes: number[] = [];
  const port = await freePort();
  const health = new HealthServer({ port, registry: createRegistry({ prefix: 't' }) });
  const shutdown = await serve({
    logger: logger(lines),
    health,
    shutdownTimeoutMs: 2000,
    stopProgress: () => void order.push('progress'),
    steps: [{ name: 'service', run: () => void order.push('service') }],
    start: async () => {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      order.push(`started with probes ${res.status}`);
    },
    startFailure: () => 'unused',
    signals: [],
    exit: (c) => codes.push(c),
  });
  assert.equal(await shutdown.trigger('test'), 0);
  assert.deepEqual(order, ['started with probes 200', 'progress', 'service']);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'the HTTP server is closed');
  assert.deepEqual(codes, [0]);
});

test('serve: a failed start is logged as fatal with the service’s explanation and exits 1', async () => {
  const lines: string[] = [];
  const codes: number[] = [];
  const health = new HealthServer({ port: 0, registry: createRegistry({ prefix: 't' }) });
  const shutdown = await serve({
    logger: logger(lines),
    health,
    shutdownTimeoutMs: 2000,
    stopProgress: () => undefined,
    steps: [],
    start: () => Promise.reject(new Error('broker unreachable')),
    startFailure: (err) => `could not start: ${(err as Error).message}`,
    signals: [],
    exit: (c) => codes.push(c),
  });
  assert.deepEqual(codes, [1]);
  assert.ok(lines.some((l) => l.includes('"level":"fatal"') && l.includes('could not start: broker unreachable')));
  await shutdown.trigger('cleanup');
});
