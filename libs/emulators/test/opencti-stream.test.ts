import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startOpenCtiEmulator } from '../src/index.ts';
import type { OpenCtiEmulator, StixObject } from '../src/index.ts';
import { OCTI_EXT, TLP_MARKINGS } from '../src/opencti/stix.ts';
import { json, openSse } from './sse-client.ts';
import type { RawEvent } from './sse-client.ts';

/** The event itself, not a dependency sent before it with the same id. */
const main = (id: string) => (e: RawEvent): boolean => e.id === id && e.data?.startsWith('{"version"') === true;

const TOKEN = 'test-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const detectionFilter = {
  mode: 'and' as const,
  filters: [
    { key: 'entity_type', values: ['Indicator'] },
    { key: 'detection', values: ['true'] },
    { key: 'revoked', values: ['false'] },
  ],
  filterGroups: [],
};

const withExt = (changes: Record<string, unknown>): Record<string, unknown> => ({ extensions: { [OCTI_EXT]: changes } });

describe('OpenCTI live stream emulator', () => {
  let octi: OpenCtiEmulator;
  before(async () => {
    octi = await startOpenCtiEmulator({
      token: TOKEN,
      heartbeatMs: 100,
      seed: 7,
      streams: [
        { id: 'all' },
        { id: 'detection', filters: detectionFilter },
        { id: 'stopped', live: false },
        { id: 'public', public: true },
        { id: 'load', load: { count: 2000 } },
      ],
    });
  });
  after(() => octi.close());

  test('401 for a missing or bad token and for an unknown stream, 410 for a stopped one, 500 for recover without start', async () => {
    const noToken = await openSse(octi.streamUrl('all'));
    assert.equal(noToken.status, 401);
    assert.equal(noToken.statusMessage, 'You are not authenticated, please check your credentials');
    const badToken = await openSse(octi.streamUrl('all'), { authorization: 'Bearer nope' });
    assert.equal(badToken.status, 401);
    const unknown = await openSse(octi.streamUrl('nope'), auth);
    assert.equal(unknown.status, 401);
    assert.equal(unknown.statusMessage, 'You are not authorized, please check your credentials');
    const stopped = await openSse(octi.streamUrl('stopped'), auth);
    assert.equal(stopped.status, 410);
    assert.equal(stopped.statusMessage, 'This live stream is stopped');
    const recover = await openSse(`${octi.streamUrl('all')}?recover=${new Date().toISOString()}`, auth);
    assert.equal(recover.status, 500);
    assert.equal(recover.statusMessage, 'Error in stream all: Recovery mode is only possible with a start date.');
    const pub = await openSse(octi.streamUrl('public'));
    assert.equal(pub.status, 200);
    pub.close();
  });

  test('connected first, without id; then one-line v4 events with <ms>-<seq> ids', async () => {
    const sse = await openSse(octi.streamUrl('all'), auth);
    assert.equal(sse.status, 200);
    assert.equal(sse.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(sse.headers['cache-control'], 'no-cache, no-transform');
    const [connected] = await sse.waitForEvents(1);
    assert.ok(sse.text().startsWith('event: connected\ndata: {'));
    assert.equal(connected!.id, undefined);
    const info = json(connected!);
    assert.deepEqual(Object.keys(info), ['lastEventId', 'firstEventId', 'firstEventDate', 'lastEventDate', 'streamSize', 'connectionId'].filter((k) => k in info));
    assert.equal(typeof info.connectionId, 'string');

    const indicator = octi.generator.indicator('ipv4');
    const [created] = octi.append({ op: 'create', data: indicator });
    const event = await sse.waitFor(main(created!.id));
    assert.match(event.id!, /^\d+-\d+$/);
    assert.equal(event.raw, `id: ${created!.id}\nevent: create\ndata: ${event.data!}`);
    assert.ok(!event.data!.includes('\n'));
    const payload = json(event);
    assert.deepEqual(Object.keys(payload), ['version', 'type', 'scope', 'message', 'origin', 'data', 'event_id']);
    assert.equal(payload.version, '4');
    assert.equal(payload.type, 'create');
    assert.equal(payload.scope, 'external');
    assert.deepEqual(payload.data, indicator);
    sse.close();
  });

  test('from / Last-Event-ID: 0, 0-0, <ms>-<seq> and ISO date; absent means live only', async () => {
    const events = octi.append(...[1, 2, 3].map(() => ({ op: 'create' as const, data: octi.generator.indicator('domain') })));
    const all = octi.lastEventId()!;
    for (const from of ['0', '0-0']) {
      const sse = await openSse(`${octi.streamUrl('all')}?from=${from}`, auth);
      await sse.waitFor((e) => e.id === all);
      assert.ok(events.every((e) => sse.events.some((s) => s.id === e.id)));
      sse.close();
    }
    const afterFirst = await openSse(octi.streamUrl('all'), { ...auth, 'last-event-id': events[0]!.id });
    await afterFirst.waitFor(main(events[2]!.id));
    assert.deepEqual(afterFirst.events.filter((e) => e.data?.startsWith('{"version"')).map((e) => e.id), [events[1]!.id, events[2]!.id]);
    afterFirst.close();
    const fromHeader = await openSse(octi.streamUrl('all'), { ...auth, from: events[1]!.id });
    await fromHeader.waitFor(main(events[2]!.id));
    assert.equal(fromHeader.events.some((e) => e.id === events[1]!.id), false);
    fromHeader.close();
    const [ms] = events[0]!.id.split('-');
    const fromDate = await openSse(`${octi.streamUrl('all')}?from=${new Date(Number(ms) - 1).toISOString()}`, auth);
    assert.equal((await fromDate.waitForEvents(2))[1]!.id, events[0]!.id);
    await fromDate.waitFor(main(events[0]!.id));
    fromDate.close();
    const live = await openSse(octi.streamUrl('all'), auth);
    await live.waitForEvents(1);
    const [fresh] = octi.append({ op: 'create', data: octi.generator.indicator('url') });
    await live.waitFor(main(fresh!.id));
    assert.ok(live.events.slice(1).every((e) => e.id === fresh!.id || e.event === 'heartbeat'));
    live.close();
  });

  test('heartbeats carry the last id and a JSON string of its ISO date; later events sort after them', async () => {
    octi.append({ op: 'create', data: octi.generator.indicator('sha256') });
    const sse = await openSse(`${octi.streamUrl('all')}?from=${octi.lastEventId()!}`, auth);
    const heartbeat = await sse.waitFor((e) => e.event === 'heartbeat');
    assert.match(heartbeat.id!, /^\d+-\d+$/);
    const [ms] = heartbeat.id!.split('-');
    assert.equal(heartbeat.data, JSON.stringify(new Date(Number(ms)).toISOString()));
    assert.equal(heartbeat.raw, `id: ${heartbeat.id!}\nevent: heartbeat\ndata: "${new Date(Number(ms)).toISOString()}"`);
    const [later] = octi.append({ op: 'create', data: octi.generator.indicator('md5') });
    const [lms, lseq] = later!.id.split('-').map(Number);
    const [hms, hseq] = heartbeat.id!.split('-').map(Number);
    assert.ok(lms! > hms! || (lms === hms && lseq! > hseq!), `${later!.id} must sort after ${heartbeat.id!}`);
    sse.close();
  });

  test('updates carry RFC 6902 patch and reverse_patch; merges carry the absorbed sources', async () => {
    const indicator = octi.generator.indicator('ipv4');
    const [created] = octi.append({ op: 'create', data: indicator });
    const sse = await openSse(`${octi.streamUrl('all')}?from=${created!.id}`, auth);
    const oldScore = (indicator.extensions as Record<string, Record<string, unknown>>)[OCTI_EXT]!.score;
    const [updated] = octi.append({ op: 'update', id: indicator.id, changes: withExt({ score: 99 }) });
    const update = json(await sse.waitFor(main(updated!.id)));
    assert.deepEqual(Object.keys(update), ['version', 'type', 'scope', 'message', 'origin', 'data', 'context', 'event_id']);
    const context = update.context as { patch: unknown[]; reverse_patch: unknown[] };
    assert.ok(context.patch.some((p) => JSON.stringify(p) === JSON.stringify({ op: 'replace', path: `/extensions/${OCTI_EXT}/score`, value: 99 })));
    assert.ok(context.reverse_patch.some((p) => JSON.stringify(p) === JSON.stringify({ op: 'replace', path: `/extensions/${OCTI_EXT}/score`, value: oldScore })));

    const a = octi.generator.observable('domain');
    const b = octi.generator.observable('domain');
    octi.append({ op: 'create', data: a }, { op: 'create', data: b });
    const [merged] = octi.append({ op: 'merge', targetId: a.id, sourceIds: [b.id] });
    const merge = await sse.waitFor(main(merged!.id));
    assert.equal(merge.event, 'merge');
    const body = json(merge);
    assert.equal((body.data as StixObject).id, a.id);
    assert.deepEqual((body.context as { sources: StixObject[] }).sources, [b]);
    assert.equal(octi.entity(b.id), undefined);
    sse.close();
  });

  test('visibility rewrite: leaving the filter is an SSE delete, re-entering a create; listen-delete=false hides it', async () => {
    const indicator = octi.generator.indicator('domain');
    const [created] = octi.append({ op: 'create', data: indicator });
    const sse = await openSse(`${octi.streamUrl('detection')}?from=${created!.id}`, auth);
    const quiet = await openSse(`${octi.streamUrl('detection')}?from=${created!.id}&listen-delete=false`, auth);
    const [revoked] = octi.append({ op: 'update', id: indicator.id, changes: { revoked: true } });
    const [restored] = octi.append({ op: 'update', id: indicator.id, changes: { revoked: false } });
    const gone = await sse.waitFor(main(revoked!.id));
    assert.equal(gone.event, 'delete');
    assert.equal(json(gone).type, 'update');
    const back = await sse.waitFor(main(restored!.id));
    assert.equal(back.event, 'create');
    assert.equal(json(back).type, 'update');
    await quiet.waitFor(main(restored!.id));
    assert.equal(quiet.events.some((e) => e.id === revoked!.id), false);
    // Objects outside the filter are never sent.
    const [obs] = octi.append({ op: 'create', data: octi.generator.observable('ipv4') });
    const hb = await sse.waitFor((e) => e.event === 'heartbeat' && e.id! >= obs!.id);
    assert.ok(hb);
    assert.equal(sse.events.some((e) => e.id === obs!.id && e.event !== 'heartbeat'), false);
    sse.close();
    quiet.close();
  });

  test('recover replays the current state as creates (origin referer init), never deletes, then tails', async () => {
    const start = new Date(Date.now() - 1000).toISOString();
    const kept = octi.generator.indicator('ipv4');
    const removed = octi.generator.indicator('ipv4');
    const epochOk = { ...kept, extensions: { [OCTI_EXT]: { ...(kept.extensions as Record<string, Record<string, unknown>>)[OCTI_EXT], updated_at: new Date().toISOString() } } };
    const epochRemoved = { ...removed, extensions: { [OCTI_EXT]: { ...(removed.extensions as Record<string, Record<string, unknown>>)[OCTI_EXT], updated_at: new Date().toISOString() } } };
    octi.append({ op: 'create', data: epochOk }, { op: 'create', data: epochRemoved }, { op: 'delete', id: removed.id });
    await new Promise((r) => setTimeout(r, 5));
    const recoverUntil = new Date().toISOString();
    const sse = await openSse(`${octi.streamUrl('detection')}?recover=${recoverUntil}`, { ...auth, 'last-event-id': start });
    const event = await sse.waitFor((e) => e.event === 'create' && (json(e).data as StixObject).id === kept.id);
    const body = json(event);
    assert.deepEqual(Object.keys(body), ['data', 'message', 'origin', 'version']);
    assert.deepEqual(body.origin, { referer: 'init' });
    assert.equal(event.id, `${Date.parse(epochOk.extensions[OCTI_EXT].updated_at)}-0`);
    assert.equal(sse.events.some((e) => e.event === 'delete'), false);
    assert.equal(sse.events.some((e) => e.data?.includes(removed.id)), false);
    const [live] = octi.append({ op: 'create', data: octi.generator.indicator('url') });
    await sse.waitFor((e) => e.id === live!.id);
    sse.close();
  });

  test('dependencies: marking and author refs first with the same id; relationships only without no-dependencies', async () => {
    const indicator = { ...octi.generator.indicator('ipv4'), object_marking_refs: [TLP_MARKINGS['TLP:AMBER']] };
    const observable = octi.generator.observable('ipv4');
    const relationship = {
      id: 'relationship--1b2c3d4e-0000-4000-8000-000000000001',
      spec_version: '2.1',
      type: 'relationship',
      relationship_type: 'based-on',
      source_ref: indicator.id,
      target_ref: observable.id,
      extensions: { [OCTI_EXT]: { id: 'r1', type: 'based-on', is_inferred: false } },
    };
    const [first] = octi.append({ op: 'create', data: observable }, { op: 'create', data: relationship });
    const [mainEvent] = octi.append({ op: 'create', data: indicator });
    const withDeps = await openSse(`${octi.streamUrl('detection')}?from=${first!.id}`, auth);
    const noDeps = await openSse(`${octi.streamUrl('detection')}?from=${first!.id}&no-dependencies=true`, auth);
    await withDeps.waitFor((e) => e.id === mainEvent!.id && json(e).type === 'create');
    await noDeps.waitFor((e) => e.id === mainEvent!.id && json(e).type === 'create');
    const deps = withDeps.events.filter((e) => e.id === mainEvent!.id && (json(e).origin as { referer?: string }).referer === 'dependencies').map((e) => (json(e).data as StixObject).id);
    assert.ok(deps.includes(TLP_MARKINGS['TLP:AMBER']));
    assert.ok(deps.includes((indicator as StixObject).created_by_ref as string));
    assert.ok(deps.includes(relationship.id));
    assert.ok(deps.includes(observable.id));
    const mainIndex = withDeps.events.findIndex((e) => e.id === mainEvent!.id && json(e).type === 'create');
    assert.ok(withDeps.events.slice(0, mainIndex).some((e) => e.data?.includes(TLP_MARKINGS['TLP:AMBER'])));
    const noDepIds = noDeps.events.filter((e) => e.id === mainEvent!.id && (json(e).origin as { referer?: string }).referer === 'dependencies').map((e) => (json(e).data as StixObject).id);
    assert.equal(noDepIds.includes(relationship.id), false);
    withDeps.close();
    noDeps.close();
  });

  test('with-inferences: inferred objects only when asked', async () => {
    const base = octi.generator.indicator('domain');
    const inferred = { ...base, extensions: { [OCTI_EXT]: { ...(base.extensions as Record<string, Record<string, unknown>>)[OCTI_EXT], is_inferred: true } } };
    const [event] = octi.append({ op: 'create', data: inferred });
    const marker = octi.append({ op: 'create', data: octi.generator.indicator('domain') })[0]!;
    const plain = await openSse(`${octi.streamUrl('all')}?from=0`, auth);
    const withInf = await openSse(`${octi.streamUrl('all')}?from=0&with-inferences=true`, auth);
    await plain.waitFor((e) => e.id === marker.id);
    await withInf.waitFor((e) => e.id === marker.id);
    assert.equal(plain.events.some((e) => e.id === event!.id), false);
    assert.ok(withInf.events.some((e) => e.id === event!.id));
    plain.close();
    withInf.close();
  });

  test('control: drop connections, stop and start a stream', async () => {
    const sse = await openSse(octi.streamUrl('all'), auth);
    await sse.waitForEvents(1);
    assert.ok(octi.dropConnections('all') >= 1);
    await sse.ended;
    const open = await openSse(octi.streamUrl('public'));
    await open.waitForEvents(1);
    octi.stop('public');
    await open.ended;
    assert.equal((await openSse(octi.streamUrl('public'))).status, 410);
    octi.start('public');
    const again = await openSse(octi.streamUrl('public'));
    assert.equal(again.status, 200);
    again.close();
  });

  test('malformed events: bad JSON, unknown event name, missing fields, oversized line', async () => {
    const ids = {
      bad: octi.injectMalformed('bad-json'),
      unknown: octi.injectMalformed('unknown-event'),
      missing: octi.injectMalformed('missing-fields'),
      big: octi.injectMalformed('oversized', { size: 2_000_000 }),
    };
    const sse = await openSse(`${octi.streamUrl('detection')}?from=${ids.bad.split('-')[0]!}-0`, auth);
    const big = await sse.waitFor((e) => e.id === ids.big);
    assert.throws(() => json(sse.events.find((e) => e.id === ids.bad)!));
    assert.equal(sse.events.find((e) => e.id === ids.unknown)!.event, 'frobnicate');
    const missing = json(sse.events.find((e) => e.id === ids.missing)!);
    assert.equal(missing.data, undefined);
    assert.ok(big.data!.length >= 2_000_000);
    assert.ok(!big.data!.includes('\n'));
    sse.close();
  });

  test('load mode: N distinct creates as fast as read, resumable by id', async () => {
    const sse = await openSse(octi.streamUrl('load'), auth);
    const events = await sse.waitForEvents(2001, 10_000);
    const creates = events.slice(1);
    assert.ok(creates.every((e) => e.event === 'create' && /^\d+-\d+$/.test(e.id!)));
    const values = new Set(creates.map((e) => (json(e).data as StixObject).pattern));
    assert.equal(values.size, 2000);
    sse.close();
    const resumed = await openSse(octi.streamUrl('load'), { ...auth, 'last-event-id': creates[1499]!.id! });
    const rest = await resumed.waitForEvents(501, 10_000);
    assert.equal(rest[1]!.id, creates[1500]!.id);
    resumed.close();
  });

  test('HTTP control endpoints append, generate and report state', async () => {
    const indicator = octi.generator.indicator('sha1');
    const res = await fetch(`${octi.url}/_emulator/events`, { method: 'POST', body: JSON.stringify([{ op: 'create', data: indicator }, { op: 'delete', id: indicator.id }]) });
    const body = (await res.json()) as { events: { id: string; event: string }[] };
    assert.deepEqual(body.events.map((e) => e.event), ['create', 'delete']);
    const gen = (await (await fetch(`${octi.url}/_emulator/generate`, { method: 'POST', body: JSON.stringify({ count: 20 }) })).json()) as { events: unknown[] };
    assert.equal(gen.events.length, 20);
    const state = (await (await fetch(`${octi.url}/_emulator/state`)).json()) as { log: { lastEventId: string }; streams: { id: string }[] };
    assert.equal(state.log.lastEventId, octi.lastEventId());
    const malformed = await fetch(`${octi.url}/_emulator/malformed`, { method: 'POST', body: JSON.stringify({ kind: 'bad-json' }) });
    assert.equal(malformed.status, 200);
    const stop = await fetch(`${octi.url}/_emulator/streams/public/stop`, { method: 'POST' });
    assert.deepEqual(await stop.json(), { id: 'public', live: false });
    await fetch(`${octi.url}/_emulator/streams/public/start`, { method: 'POST' });
  });
});

test('the stream is a bounded ring buffer (MAXLEN)', async () => {
  const octi = await startOpenCtiEmulator({ token: TOKEN, maxLength: 5, streams: [{ id: 'all' }], seedReferenceData: false });
  try {
    const events = octi.append(...Array.from({ length: 8 }, () => ({ op: 'create' as const, data: octi.generator.indicator('ipv4') })));
    const sse = await openSse(`${octi.streamUrl('all')}?from=0`, auth);
    const received = await sse.waitForEvents(6);
    assert.equal(json(received[0]!).streamSize, 5);
    assert.equal(json(received[0]!).firstEventId, events[3]!.id);
    assert.deepEqual(received.slice(1).map((e) => e.id), events.slice(3).map((e) => e.id));
    sse.close();
  } finally {
    await octi.close();
  }
});
