import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { Counter, createLogger, createRegistry, logProgress, metricTotal } from '../src/index.ts';

test('metricTotal sums a metric, optionally over matching labels', async () => {
  const registry = createRegistry({ prefix: 'test_progress' });
  const items = new Counter({ name: 'test_items_total', help: 'items', labelNames: ['endpoint', 'outcome'], registers: [registry] });
  items.inc({ endpoint: 'import', outcome: 'accepted' }, 5);
  items.inc({ endpoint: 'import', outcome: 'rejected' }, 2);
  items.inc({ endpoint: 'batchDelete', outcome: 'deleted' }, 3);
  assert.equal(await metricTotal(registry, 'test_items_total'), 10);
  assert.equal(await metricTotal(registry, 'test_items_total', { endpoint: 'import', outcome: 'accepted' }), 5);
  assert.equal(await metricTotal(registry, 'no_such_metric'), 0);
});

test('logProgress logs the figures periodically until stopped', async () => {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  const logger = createLogger({ name: 'test', destination });
  let n = 0;
  const stop = logProgress(logger, () => Promise.resolve({ read: ++n, lag: 0 }), 5);
  // The timer is unref'd: an interval keeps this test alive while it waits for the lines.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    while (lines.length < 2) await new Promise((r) => setImmediate(r));
  } finally {
    stop();
    clearInterval(keepAlive);
  }
  assert.deepEqual(lines.slice(0, 2).map((l) => [l.msg, l.read, l.lag]), [['progress', 1, 0], ['progress', 2, 0]]);
});
