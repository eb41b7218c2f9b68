// End to end: OpenCTI emulator → listener → real Kafka → defender-writer → Defender emulator. After an
// outage whose history OpenCTI trimmed, the resync deletes from Defender what was deleted in the gap
// and leaves the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ours } from '../../defender-writer/test/harness.ts';
import { startPipeline } from './pipeline.ts';
import { decodeCheckpoint } from '../src/checkpoint.ts';
import { compareEventIds } from '@octi-defender/indicators';
import { eligible, listenerConfig, startListener, until } from './helpers.ts';

const STREAM = 'c1a2b3c4-0000-4000-8000-0000000000e2';

test('end to end: trimmed history repaired by a resync deletes the stale indicator from Defender and keeps the live ones', async (t) => {
  const { octi, mde, topics, writer } = await startPipeline(t, STREAM, 9);

  const keep1 = eligible(octi.generator.indicator('ipv4'));
  const keep2 = eligible(octi.generator.indicator('domain'));
  const gone = eligible(octi.generator.indicator('url'));
  const created = octi.append({ op: 'create', data: keep1 }, { op: 'create', data: keep2 }, { op: 'create', data: gone });
  const cfg = listenerConfig(octi.url, [STREAM], topics, { CONNECTOR_LIVE_STREAM_START_FROM: '0-0' });
  const h1 = startListener(cfg);
  t.after(() => h1.close());
  await h1.listener.start();
  await until('three indicators in Defender', () => ours(mde).length === 3, 60_000);
  await until('checkpoint past the creates', async () => {
    const stored = await h1.kafka.readCompacted(topics.checkpoints);
    const at = decodeCheckpoint(STREAM, stored.get(STREAM)?.value ?? null)?.lastEventId;
    return at !== undefined && compareEventIds(at, created[2]!.id) >= 0;
  });
  await h1.close();

  // The delete happens while the listener is down, and the history holding it is trimmed.
  octi.append({ op: 'delete', id: gone.id });
  octi.append({ op: 'update', id: keep2.id, changes: { description: 'still here' } });
  octi.trimHistory(1);
  const before = ours(mde);

  const h2 = startListener(cfg);
  t.after(() => h2.close());
  await h2.listener.start();
  await until('the stale indicator deleted from Defender', () => ours(mde).length === 2, 60_000);
  const after = ours(mde);
  assert.equal(after.length, 2);
  assert.ok(after.every((v) => before.includes(v)), 'the live ones untouched');
  assert.ok(!after.some((v) => v.startsWith('http')), `the url left: ${after.join(', ')}`);
  assert.ok(writer.lines.some((l) => l.includes('resync ended')));
});
