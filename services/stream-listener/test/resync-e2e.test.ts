// End to end: OpenCTI emulator → listener → real Kafka → defender-writer → Defender emulator. After an
// outage whose history OpenCTI trimmed, the resync deletes from Defender what was deleted in the gap
// and leaves the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OCTI_EXT, startOpenCtiEmulator, TLP_MARKINGS, type StixObject } from '@octi-defender/emulators';
import { emulator as defenderEmulator, ours, startWriter, writerEnv } from '../../defender-writer/test/harness.ts';
import { decodeCheckpoint } from '../src/checkpoint.ts';
import { compareEventIds } from '@octi-defender/indicators';
import { listenerConfig, startListener, TOKEN, uniqueTopics, until } from './helpers.ts';

const STREAM = 'c1a2b3c4-0000-4000-8000-0000000000e2';

/** An indicator every default policy sends: detection on, TLP:GREEN, not revoked, valid for a year, score 80. */
function eligible(o: StixObject): StixObject {
  const ext = (o.extensions as Record<string, Record<string, unknown>>)[OCTI_EXT]!;
  return {
    ...o,
    revoked: false,
    object_marking_refs: [TLP_MARKINGS['TLP:GREEN']],
    valid_until: new Date(Date.now() + 365 * 86_400_000).toISOString(),
    extensions: { ...(o.extensions as object), [OCTI_EXT]: { ...ext, score: 80, detection: true } },
  };
}

test('end to end: trimmed history repaired by a resync deletes the stale indicator from Defender and keeps the live ones', async (t) => {
  const octi = await startOpenCtiEmulator({ port: 0, host: '127.0.0.1', token: TOKEN, streams: [{ id: STREAM }], heartbeatMs: 200, seed: 9 });
  t.after(() => octi.close());
  const mde = await defenderEmulator();
  t.after(() => mde.close());
  const topics = uniqueTopics();
  const writer = await startWriter(writerEnv(mde, { commands: topics.commands, dlq: `${topics.dlq}.writer`, state: `${topics.commands}.state`, group: `${topics.group}-writer` }));
  t.after(() => writer.stop());

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
