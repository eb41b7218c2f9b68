// Resync against the OpenCTI emulator and a real Kafka broker: trimmed history detected from the
// `connected` event and repaired, and an operator resync after a filter edit. The writer's side is
// played by the defender-writer's own resync module and claim fold over the published topic.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { OCTI_EXT, startOpenCtiEmulator, type FilterGroup, type StixObject } from '@octi-defender/emulators';
import { decodeCommand, decodeResyncMarker, type ResyncMarker } from '@octi-defender/indicators';
import { foldCommand, type Claim } from '../../defender-writer/src/core/claims.ts';
import { ResyncEpochs } from '../../defender-writer/src/core/resync.ts';
import { withoutStale } from '../../defender-writer/test/resync-helpers.ts';
import { decodeCheckpoint, type Checkpoint } from '../src/checkpoint.ts';
import { compareEventIds } from '@octi-defender/indicators';
import { listenerConfig, startListener, tail, testKafka, TOKEN, uniqueTopics, until, type Published } from './helpers.ts';

const STREAM = 'c1a2b3c4-0000-4000-8000-0000000000r5';

/** A started listener and a tail of the commands topic, both closed after the test. */
async function startObserved(
  t: TestContext,
  cfg: Parameters<typeof startListener>[0],
  commandsTopic: string,
): Promise<{ h: ReturnType<typeof startListener>; cmds: Awaited<ReturnType<typeof tail>> }> {
  const h = startListener(cfg);
  t.after(() => h.close());
  await h.listener.start();
  const observer = testKafka();
  t.after(() => observer.close());
  const cmds = await tail(observer, commandsTopic);
  t.after(() => cmds.close());
  return { h, cmds };
}

/** What a writer holds after reading the topic in partition order: claims per key, markers seen. */
function playWriter(records: readonly Published[]): { claims: Map<string, readonly Claim[]>; markers: Array<ResyncMarker & { index: number }>; retracted: string[] } {
  const claims = new Map<string, readonly Claim[]>();
  const keyPartition = new Map<string, number>();
  const epochs = new ResyncEpochs();
  const markers: Array<ResyncMarker & { index: number }> = [];
  const retracted: string[] = [];
  const ordered = [...records].sort((a, b) => a.partition - b.partition || Number(a.offset - b.offset));
  for (const [i, r] of ordered.entries()) {
    if ((JSON.parse(r.value) as { op?: string }).op === 'resync') {
      const m = decodeResyncMarker(Buffer.from(r.value));
      assert.ok(m.ok);
      markers.push({ ...m.value, index: i });
      if (m.value.phase === 'begin') epochs.begin(r.partition, m.value);
      else {
        const onPartition = [...claims].filter(([key]) => keyPartition.get(key) === r.partition);
        const stale = epochs.end(r.partition, m.value, onPartition);
        for (const [key, list] of onPartition) claims.set(key, withoutStale(key, list, stale));
        retracted.push(...stale.map((s) => s.key));
      }
      continue;
    }
    const d = decodeCommand(Buffer.from(r.value));
    assert.ok(d.ok);
    keyPartition.set(d.value.key, r.partition);
    epochs.observe(r.partition, d.value);
    claims.set(d.value.key, foldCommand(claims.get(d.value.key) ?? [], d.value));
  }
  return { claims, markers, retracted };
}

async function checkpointOf(h: { kafka: { readCompacted(topic: string): Promise<Map<string, { value: Buffer | null }>> } }, topic: string): Promise<Checkpoint | undefined> {
  const stored = await h.kafka.readCompacted(topic);
  return decodeCheckpoint(STREAM, stored.get(STREAM)?.value ?? null);
}

test('trimmed history is detected from the connected event and repaired by a resync: the stale value retracted, live ones untouched', async (t) => {
  const octi = await startOpenCtiEmulator({ port: 0, host: '127.0.0.1', token: TOKEN, streams: [{ id: STREAM }], heartbeatMs: 200, seed: 5 });
  t.after(() => octi.close());
  const topics = uniqueTopics();
  const cfg = listenerConfig(octi.url, [STREAM], topics, { CONNECTOR_LIVE_STREAM_START_FROM: '0-0' });
  const keep1 = octi.generator.indicator('ipv4');
  const keep2 = octi.generator.indicator('domain');
  const gone = octi.generator.indicator('url');
  const appended = octi.append({ op: 'create', data: keep1 }, { op: 'create', data: keep2 }, { op: 'create', data: gone });

  const { h: h1, cmds } = await startObserved(t, cfg, topics.commands);
  await until('three upserts', () => cmds.records.length >= 3);
  await until('checkpoint past the creates', async () => {
    const at = (await checkpointOf(h1, topics.checkpoints))?.lastEventId;
    return at !== undefined && compareEventIds(at, appended[2]!.id) >= 0;
  });
  await h1.close();

  // While the listener is down: the url indicator is deleted, and the history holding that delete
  // is trimmed away (Redis MAXLEN) — only a later event is kept.
  octi.append({ op: 'delete', id: gone.id });
  octi.append({ op: 'update', id: keep1.id, changes: { description: 'seen again' } });
  assert.equal(octi.trimHistory(1), 4);

  const h2 = startListener(cfg);
  t.after(() => h2.close());
  await h2.listener.start();
  await until('resync end markers', () => playWriter(cmds.records).markers.some((m) => m.phase === 'end'), 60_000);
  const writer = playWriter(cmds.records);
  const begins = writer.markers.filter((m) => m.phase === 'begin');
  const ends = writer.markers.filter((m) => m.phase === 'end');
  const partitions = begins[0]!.partitions;
  assert.equal(begins.length, partitions, 'a begin marker on every partition');
  assert.equal(ends.length, partitions, 'an end marker on every partition');
  assert.deepEqual(new Set(ends.map((m) => m.partition)).size, partitions);
  assert.ok(begins.every((m) => m.reason === 'trimmed_history' && m.epoch === begins[0]!.epoch && m.streamId === STREAM));
  // The stale value is retracted; the values the stream still asserts are untouched.
  assert.equal(writer.retracted.length, 1);
  assert.match(writer.retracted[0]!, /^Url:/);
  const internal = (o: StixObject): string => (o.extensions as Record<string, { id: string }>)[OCTI_EXT]!.id;
  const live = [...writer.claims.values()].flat().map((c) => c.sourceId).sort();
  assert.deepEqual(live, [internal(keep1), internal(keep2)].sort());
  const gh = (await h2.metrics.historyGaps.get()).values[0]?.value;
  assert.equal(gh, 1, 'the gap counted once');
  const rs = (await h2.metrics.resyncs.get()).values.find((v) => v.labels.reason === 'trimmed_history')?.value;
  assert.equal(rs, 1);
  // The reconnection that starts the replay is the resync's, not the watchdog's.
  const reconnects = (await h2.metrics.reconnects.get()).values;
  assert.deepEqual(reconnects.map((v) => [v.labels.cause, v.value]), [['resync', 1]]);
  assert.ok(h2.lines.some((l) => l.includes('trimmed history')));
  // The resync is over: its state left the checkpoint, which is now past the replay's recover point.
  await until('checkpoint without resync state', async () => {
    const c = await checkpointOf(h2, topics.checkpoints);
    return c !== undefined && c.resync === undefined && compareEventIds(c.lastEventId, appended[2]!.id) > 0;
  });
  assert.doesNotMatch(h2.listener.ready().detail, /resyncing/);
});

test('an operator resync after a filter edit retracts exactly what left the filter', async (t) => {
  const both: FilterGroup = { mode: 'and', filters: [{ key: 'x_opencti_main_observable_type', values: ['IPv4-Addr', 'Domain-Name'], operator: 'eq', mode: 'or' }], filterGroups: [] };
  const ipOnly: FilterGroup = { mode: 'and', filters: [{ key: 'x_opencti_main_observable_type', values: ['IPv4-Addr'], operator: 'eq', mode: 'or' }], filterGroups: [] };
  const octi = await startOpenCtiEmulator({ port: 0, host: '127.0.0.1', token: TOKEN, streams: [{ id: STREAM, filters: both }], heartbeatMs: 200, seed: 6 });
  t.after(() => octi.close());
  const topics = uniqueTopics();
  const ip = octi.generator.indicator('ipv4');
  const domain = octi.generator.indicator('domain');
  octi.append({ op: 'create', data: ip }, { op: 'create', data: domain });

  // First start: OpenCTI replays the current state (recover), then the listener follows live.
  const { h: h1, cmds } = await startObserved(t, listenerConfig(octi.url, [STREAM], topics), topics.commands);
  await until('both upserts', () => cmds.records.length >= 2);
  await until('a checkpoint', async () => (await checkpointOf(h1, topics.checkpoints)) !== undefined);
  await h1.close();

  // The operator narrows the stream to IPv4; OpenCTI sends nothing about the domain.
  octi.setFilters(STREAM, ipOnly);
  const h2 = startListener(listenerConfig(octi.url, [STREAM], topics, { LISTENER_RESYNC_REQUEST: 'filters-2026-12-01' }));
  t.after(() => h2.close());
  await h2.listener.start();
  await until('resync end markers', () => playWriter(cmds.records).markers.some((m) => m.phase === 'end'), 60_000);
  const writer = playWriter(cmds.records);
  assert.ok(writer.markers.every((m) => m.reason === 'operator'));
  assert.equal(writer.retracted.length, 1);
  assert.match(writer.retracted[0]!, /^DomainName:/);
  const remaining = [...writer.claims].filter(([, c]) => c.length > 0).map(([k]) => k);
  assert.equal(remaining.length, 1);
  assert.match(remaining[0]!, /^IpAddress:/);
  await until('the request recorded as done', async () => {
    const c = await checkpointOf(h2, topics.checkpoints);
    return c?.resyncRequest === 'filters-2026-12-01' && c.resync === undefined;
  });
  await h2.close();

  // The same request again does nothing: each value runs once.
  const h3 = startListener(listenerConfig(octi.url, [STREAM], topics, { LISTENER_RESYNC_REQUEST: 'filters-2026-12-01' }));
  t.after(() => h3.close());
  await h3.listener.start();
  await until('h3 connected', () => h3.listener.ready().ok);
  assert.equal((await h3.metrics.resyncs.get()).values.reduce((n, v) => n + v.value, 0), 0);
});
