import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger, createRegistry } from '@octi-defender/platform';
import { createWriterMetrics } from '../../src/metrics.ts';
import { Repairs } from '../../src/tasks/repairs.ts';

const log = createLogger({ name: 'test', level: 'silent' });

describe('Repairs', () => {
  test('pending from the ask until a reconciliation that started after it completed', () => {
    const m = createWriterMetrics(createRegistry({ prefix: 'test' }));
    const r = new Repairs(() => Promise.resolve(), m, log);
    assert.equal(r.pending, false);
    const before = r.asked;
    r.askSoon();
    assert.equal(r.pending, true);
    r.covered(before);
    assert.equal(r.pending, true, 'started before the ask: does not cover it');
    r.covered(r.asked);
    assert.equal(r.pending, false);
    r.close();
  });
  test('a reconciliation put off by a catch-up runs when it ends, once', async () => {
    let runs = 0;
    const r = new Repairs(() => Promise.resolve(void runs++), createWriterMetrics(createRegistry({ prefix: 'test' })), log);
    r.catchUpEnded();
    assert.equal(runs, 0);
    r.putOff();
    r.catchUpEnded();
    r.catchUpEnded();
    await Promise.resolve();
    assert.equal(runs, 1);
    r.close();
  });
});
