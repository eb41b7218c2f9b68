// The OpenCTI emulator against the behaviour of OpenCTI's server code (sseMiddleware.js,
// redis-stream.ts) where the listener relies on it: update payloads, array patches, the recover
// window, large events, trimmed history, the heartbeat race, cut connections and filter edits.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import jsonpatch, { type Operation } from 'fast-json-patch';
import { startOpenCtiEmulator } from '../src/index.ts';
import type { OpenCtiEmulator, StixObject } from '../src/index.ts';
import { OCTI_EXT } from '../src/opencti/stix.ts';
import { json, openSse } from './sse-client.ts';
import type { RawEvent } from './sse-client.ts';

const TOKEN = 'fidelity-token';
const auth = { authorization: `Bearer ${TOKEN}` };
const main = (id: string) => (e: RawEvent): boolean => e.id === id && e.data?.startsWith('{"version"') === true;
const ext = (o: StixObject): Record<string, unknown> => (o.extensions as Record<string, Record<string, unknown>>)[OCTI_EXT]!;

describe('OpenCTI emulator fidelity', () => {
  let octi: OpenCtiEmulator;
  before(async () => {
    octi = await startOpenCtiEmulator({ token: TOKEN, heartbeatMs: 20, seed: 3, streams: [{ id: 'all' }, { id: 'race' }] });
  });
  after(() => octi.close());

  test('updates carry event_id and changes; patches are fast-json-patch compare output, array changes index by index', async () => {
    const indicator = { ...octi.generator.indicator('ipv4'), labels: ['apt', 'botnet', 'c2'] };
    const [created] = octi.append({ op: 'create', data: indicator });
    const sse = await openSse(`${octi.streamUrl('all')}?from=${created!.id}`, auth);
    const oldScore = ext(indicator).score;
    const [updated] = octi.append({ op: 'update', id: indicator.id, changes: { labels: ['apt', 'c2'], extensions: { [OCTI_EXT]: { score: 99 } } } });
    const update = json(await sse.waitFor(main(updated!.id)));
    const current = update.data as StixObject;
    const context = update.context as { patch: Operation[]; reverse_patch: Operation[]; changes: Array<{ field: string; changes_added: unknown[]; changes_removed: unknown[] }> };
    // event_id: the stored one, else <updated_at ms>-<index in the read batch>.
    assert.match(String(update.event_id), /^\d+-\d+$/);
    assert.equal(String(update.event_id).split('-')[0], String(Date.parse(String(ext(current).updated_at))));
    // Exactly what fast-json-patch's compare gives, and labels change at index level.
    const previous = jsonpatch.applyPatch(structuredClone(current), context.reverse_patch, false, false).newDocument;
    assert.deepEqual(context.patch, jsonpatch.compare(previous, current));
    assert.deepEqual(previous.labels, ['apt', 'botnet', 'c2']);
    assert.ok(context.patch.some((p) => p.path === '/labels/1' && p.op === 'replace'), JSON.stringify(context.patch));
    assert.ok(context.patch.some((p) => p.path === '/labels/2' && p.op === 'remove'));
    assert.ok(context.patch.every((p) => p.path !== '/labels'));
    assert.deepEqual(context.changes.find((c) => c.field === 'score'), { field: 'score', changes_added: [99], changes_removed: [oldScore] });
    assert.deepEqual(context.changes.find((c) => c.field === 'labels'), { field: 'labels', changes_added: [], changes_removed: ['botnet'] });
    assert.ok(context.changes.every((c) => c.field !== 'updated_at' && c.field !== 'modified'));
    sse.close();
  });

  test('recover replays objects updated in [from, recover], both ends included', async () => {
    const base = Date.parse('2026-03-01T00:00:00.000Z');
    const at = (ms: number): StixObject => {
      const o = octi.generator.indicator('domain');
      return { ...o, extensions: { ...(o.extensions as object), [OCTI_EXT]: { ...ext(o), updated_at: new Date(ms).toISOString() } } };
    };
    const [early, first, last, late] = [at(base - 1), at(base), at(base + 60_000), at(base + 60_001)];
    octi.append(...[early, first, last, late].map((data) => ({ op: 'create' as const, data })));
    const sse = await openSse(`${octi.streamUrl('all')}?from=${base}-0&recover=${new Date(base + 60_000).toISOString()}`, auth);
    await sse.waitFor((e) => e.event === 'heartbeat');
    const replayed = new Set(sse.events.filter((e) => e.data?.includes('"referer":"init"')).map((e) => (json(e).data as StixObject).id));
    assert.ok(replayed.has(first.id), 'the start is included');
    assert.ok(replayed.has(last.id), 'the recover date is included');
    assert.ok(!replayed.has(early.id) && !replayed.has(late.id));
    sse.close();
  });

  test('a large event arrives whole, with no heartbeat inside it', async () => {
    const big = { ...octi.generator.indicator('url'), description: 'd'.repeat(6 * 1024 * 1024) };
    const start = octi.append({ op: 'create', data: octi.generator.indicator('md5') })[0]!.id;
    const [created] = octi.append({ op: 'create', data: big });
    const sse = await openSse(`${octi.streamUrl('all')}?from=${start}`, auth);
    const event = await sse.waitFor(main(created!.id), 30_000);
    assert.equal((json(event).data as StixObject).description, big.description);
    sse.close();
  });

  test('trimmed history: connected shows the first kept id and the size; an older start silently begins there', async () => {
    const events = octi.append(...Array.from({ length: 6 }, () => ({ op: 'create' as const, data: octi.generator.indicator('ipv4') })));
    const kept = 3;
    assert.ok(octi.trimHistory(kept) > 0);
    const sse = await openSse(`${octi.streamUrl('all')}?from=${events[0]!.id}`, auth);
    const [connected] = await sse.waitForEvents(1);
    const info = json(connected!);
    assert.equal(info.firstEventId, events[3]!.id);
    assert.equal(info.streamSize, kept);
    assert.equal(info.lastEventId, events[5]!.id);
    await sse.waitFor(main(events[5]!.id));
    const ids = sse.events.filter((e) => e.data?.startsWith('{"version"')).map((e) => e.id);
    assert.deepEqual(ids, events.slice(3).map((e) => e.id), 'resumed at the oldest kept event, nothing said about the gap');
    sse.close();
  });

  test("heartbeat race: a heartbeat with an event's id between its dependencies and the event", async () => {
    const raceEmu = await startOpenCtiEmulator({ token: TOKEN, heartbeatMs: 600_000, heartbeatRace: true, streams: [{ id: 'race' }] });
    try {
      const indicator = raceEmu.generator.indicator('ipv4');
      const [created] = raceEmu.append({ op: 'create', data: indicator });
      const sse = await openSse(`${raceEmu.streamUrl('race')}?from=0`, auth);
      await sse.waitFor(main(created!.id));
      const withId = sse.events.filter((e) => e.id === created!.id).map((e) => (e.event === 'heartbeat' ? 'heartbeat' : e.data?.includes('"referer":"dependencies"') ? 'dependency' : 'event'));
      assert.ok(withId.indexOf('heartbeat') > withId.indexOf('dependency') && withId.indexOf('dependency') >= 0, withId.join());
      assert.equal(withId.at(-1), 'event');
      assert.equal(withId.indexOf('heartbeat'), withId.length - 2);
      sse.close();
    } finally {
      await raceEmu.close();
    }
  });

  test('cut connections end inside an event, as many times as asked', async () => {
    const start = octi.append({ op: 'create', data: octi.generator.indicator('md5') })[0]!.id;
    const [created] = octi.append({ op: 'create', data: octi.generator.indicator('sha1') });
    octi.cutConnections({ eventId: created!.id, at: 'inside', times: 2 });
    for (let i = 0; i < 2; i++) {
      const sse = await openSse(`${octi.streamUrl('all')}?from=${start}`, auth);
      await sse.ended;
      assert.ok(!sse.events.some(main(created!.id)), 'the event never completes');
      assert.ok(sse.text().includes(`id: ${created!.id}\nevent: create\ndata: {"version"`), 'but it began');
    }
    const sse = await openSse(`${octi.streamUrl('all')}?from=${start}`, auth);
    await sse.waitFor(main(created!.id));
    sse.close();
  });

  test('a filter edit applies to later events only (nothing already sent is re-evaluated)', async () => {
    const emu = await startOpenCtiEmulator({ token: TOKEN, heartbeatMs: 50, streams: [{ id: 'f' }] });
    try {
      const sse = await openSse(emu.streamUrl('f'), auth);
      await sse.waitForEvents(1);
      const [domain] = emu.append({ op: 'create', data: emu.generator.indicator('domain') });
      await sse.waitFor(main(domain!.id));
      emu.setFilters('f', { mode: 'and', filters: [{ key: 'x_opencti_main_observable_type', values: ['IPv4-Addr'], operator: 'eq', mode: 'or' }], filterGroups: [] });
      const [other, ip] = emu.append({ op: 'create', data: emu.generator.indicator('domain') }, { op: 'create', data: emu.generator.indicator('ipv4') });
      await sse.waitFor(main(ip!.id));
      assert.ok(!sse.events.some(main(other!.id)));
      assert.ok(!sse.events.some((e) => e.event === 'delete'), 'the domain sent before the edit is not retracted by OpenCTI');
      sse.close();
    } finally {
      await emu.close();
    }
  });
});
