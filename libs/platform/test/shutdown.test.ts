import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, installShutdown } from '../src/index.ts';

const quiet = createLogger({ name: 't', destination: new Writable({ write: (_c, _e, cb) => cb() }) });

test('runs the steps in order once and exits 0', async () => {
  const order: string[] = [];
  const codes: number[] = [];
  const sd = installShutdown({
    logger: quiet,
    timeoutMs: 1000,
    signals: [],
    exit: (c) => codes.push(c),
    steps: [
      { name: 'stop reading', run: () => void order.push('stop') },
      {
        name: 'commit',
        run: async () => {
          await new Promise((r) => setTimeout(r, 10));
          order.push('commit');
        },
      },
      { name: 'close', run: () => void order.push('close') },
    ],
  });
  const [a, b] = await Promise.all([sd.trigger('test'), sd.trigger('again')]);
  assert.deepEqual(order, ['stop', 'commit', 'close']);
  assert.equal(a, 0);
  assert.equal(b, 0);
  assert.deepEqual(codes, [0]);
});

test('a failing step does not stop later steps and makes the exit code 1', async () => {
  const order: string[] = [];
  const codes: number[] = [];
  const sd = installShutdown({
    logger: quiet,
    timeoutMs: 1000,
    signals: [],
    exit: (c) => codes.push(c),
    steps: [
      {
        name: 'broken',
        run: () => {
          throw new Error('x');
        },
      },
      { name: 'close', run: () => void order.push('close') },
    ],
  });
  assert.equal(await sd.trigger('test'), 1);
  assert.deepEqual(order, ['close']);
  assert.deepEqual(codes, [1]);
});

test('a stuck step is cut off by the timeout', async () => {
  const codes: number[] = [];
  const sd = installShutdown({
    logger: quiet,
    timeoutMs: 50,
    signals: [],
    exit: (c) => codes.push(c),
    steps: [{ name: 'stuck', run: () => new Promise<void>(() => undefined) }],
  });
  assert.equal(await sd.trigger('test'), 1);
  assert.deepEqual(codes, [1]);
});

test('a signal triggers the shutdown', async () => {
  const codes: number[] = [];
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const sd = installShutdown({
    logger: quiet,
    timeoutMs: 1000,
    signals: ['SIGHUP'],
    exit: (c) => {
      codes.push(c);
      done();
    },
    steps: [{ name: 'noop', run: () => undefined }],
  });
  process.kill(process.pid, 'SIGHUP');
  await finished;
  sd.dispose();
  assert.deepEqual(codes, [0]);
});
