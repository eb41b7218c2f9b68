// Listener#rewrite over a real broker and the OpenCTI emulator: an operator change of the positions
// applies once per request id, in one transaction with its record, and the listener restarts from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startOpenCtiEmulator } from '@octi-defender/emulators';
import { decodeCheckpoint } from '../src/checkpoint.ts';
import { appliedRequestKey } from '../src/checkpoint-change.ts';
import { RefusedChange, replayCheckpoint } from '../src/rewind.ts';
import { compareEventIds } from '@octi-defender/indicators';
import { listenerConfig, startListener, tail, TOKEN, uniqueTopics, until } from './helpers.ts';

const STREAM = 'c1a2b3c4-0000-4000-8000-0000000e3e3e';

test('rewrite: applied once per request id, refused with the reason, and the listener reads again from the new checkpoint', async (t) => {
  const octi = await startOpenCtiEmulator({ port: 0, host: '127.0.0.1', token: TOKEN, streams: [{ id: STREAM }], heartbeatMs: 200, seed: 41 });
  t.after(() => octi.close());
  const topics = uniqueTopics();
  const h = startListener(listenerConfig(octi.url, [STREAM], topics, { CONNECTOR_LIVE_STREAM_START_FROM: '0-0' }));
  t.after(() => h.close());
  await h.listener.start();
  const commands = await tail(h.kafka, topics.commands);
  t.after(() => commands.close());
  const created = octi.append(...[0, 1].map(() => ({ op: 'create' as const, data: octi.generator.indicator('domain') })));
  const checkpoint = async () => decodeCheckpoint(STREAM, (await h.kafka.readCompacted(topics.checkpoints)).get(STREAM)?.value ?? null);
  await until('the checkpoint past the creates', async () => {
    const at = (await checkpoint())?.lastEventId;
    return at !== undefined && compareEventIds(at, created[1]!.id) >= 0;
  });
  const published = commands.records.length;

  const change = (id: string, current: Parameters<typeof replayCheckpoint>[1]) => replayCheckpoint(id, current, { from: '0-0' }, { startFrom: '0-0', now: new Date() });
  const first = await h.listener.rewrite('req-1', change);
  assert.equal(first.outcome, 'applied');
  assert.ok((await h.kafka.readCompacted(topics.checkpoints)).has(appliedRequestKey('req-1')), 'the request recorded with the checkpoint');
  await until('both creates read again', () => commands.records.length === published + 2);
  await until('active again', () => h.listener.role === 'active' && h.listener.ready().ok);

  assert.deepEqual(await h.listener.rewrite('req-1', change), { outcome: 'duplicate' });
  const refused = await h.listener.rewrite('req-2', () => {
    throw new RefusedChange('not now');
  });
  assert.deepEqual(refused, { outcome: 'refused', reason: 'not now' });
  assert.equal((await h.kafka.readCompacted(topics.checkpoints)).has(appliedRequestKey('req-2')), false, 'a refused request is not recorded');
  // Nothing read again by the duplicate or the refusal.
  await new Promise((r) => setTimeout(r, 1000));
  assert.equal(commands.records.length, published + 2);
});
