// Unit tests of the OpenCTI emulator's parts: store, event writer, renderer, auth, faults, streams.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { TokenCheck } from '../src/opencti/auth.ts';
import { EventLog } from '../src/opencti/event-log.ts';
import { EventWriter } from '../src/opencti/event-writer.ts';
import { ConnectionCuts, GraphqlOutage, malformedEvent } from '../src/opencti/faults.ts';
import { ConnectionRenderer } from '../src/opencti/renderer.ts';
import { OCTI_EXT, StixGenerator, type StixObject } from '../src/opencti/stix.ts';
import { EntityStore } from '../src/opencti/store.ts';
import { StreamRegistry } from '../src/opencti/streams.ts';

const T0 = Date.parse('2026-01-01T00:00:00Z');
const generator = (): StixGenerator => new StixGenerator({ seed: 3, epochMs: T0 - 86_400_000 });
const relationship = (id: string, from: string, to: string): StixObject => ({ id, type: 'relationship', source_ref: from, target_ref: to });

describe('EntityStore', () => {
  it('indexes relationships by their ends and resolves internal or standard ids', () => {
    const store = new EntityStore();
    const indicator = generator().indicator('ipv4');
    store.put(indicator);
    store.put(relationship('relationship--1', indicator.id, 'x'));
    assert.deepEqual([...store.relationsOf(indicator.id)], ['relationship--1']);
    const internal = (indicator.extensions as Record<string, Record<string, string>>)[OCTI_EXT]!.id!;
    assert.deepEqual(store.resolve(internal), { id: internal, standard_id: indicator.id, entity_type: 'Indicator' });
    assert.equal(store.resolve(indicator.id)?.id, internal);
    store.remove('relationship--1');
    assert.deepEqual([...store.relationsOf(indicator.id)], []);
    assert.equal(store.resolve('nothing'), undefined);
  });
});

describe('EventWriter', () => {
  it('appends create, update (with patches and changes), merge and delete; date-only updates write nothing', () => {
    const store = new EntityStore();
    const log = new EventLog(100);
    let now = T0;
    const writer = new EventWriter(store, log, () => now);
    const gen = generator();
    const a = gen.indicator('ipv4');
    const b = gen.indicator('domain');
    assert.deepEqual(writer.append({ op: 'create', data: a }, { op: 'create', data: b }).map((e) => e.event), ['create', 'create']);
    now += 1000;
    const [update] = writer.append({ op: 'update', id: a.id, changes: { name: 'renamed' } });
    assert.equal(update?.event, 'update');
    const payload = JSON.parse(log.last()!.json) as { context: { patch: Array<{ path: string }>; changes: Array<{ field: string }> } };
    assert.ok(payload.context.patch.some((p) => p.path === '/name'));
    assert.deepEqual(payload.context.changes.map((c) => c.field), ['name']);
    assert.deepEqual(writer.append({ op: 'update', id: a.id, changes: {} }), [], 'only the dates would change');
    assert.equal(writer.append({ op: 'merge', targetId: a.id, sourceIds: [b.id] })[0]?.event, 'merge');
    assert.equal(store.get(b.id), undefined);
    assert.equal(writer.append({ op: 'delete', id: a.id })[0]?.event, 'delete');
    assert.equal(store.size, 0);
    assert.throws(() => writer.append({ op: 'delete', id: a.id }), /no entity/);
  });
});

describe('ConnectionRenderer', () => {
  it('rewrites updates by visibility and sends dependencies once per connection', () => {
    const store = new EntityStore();
    const log = new EventLog(100);
    const writer = new EventWriter(store, log, () => T0);
    const author: StixObject = { id: 'identity--1', type: 'identity', name: 'Author' };
    store.put(author);
    const indicator = { ...generator().indicator('ipv4'), created_by_ref: author.id, revoked: false };
    writer.append({ op: 'create', data: indicator }, { op: 'update', id: indicator.id, changes: { revoked: true } }, { op: 'update', id: indicator.id, changes: { revoked: false } });
    const filters = { mode: 'and' as const, filters: [{ key: ['revoked'], values: ['false'] }], filterGroups: [] };
    const renderer = new ConnectionRenderer(store, { filters: () => filters, dependencies: true, deletes: true, inferences: false });
    const [create, leave, enter] = [1, 2, 3].map((n) => renderer.render(log.get(log.endN - 4 + n)!));
    assert.match(create!.deps, /"referer":"dependencies"/);
    assert.match(create!.main, /^id: .*\nevent: create\n/);
    assert.match(leave!.main, /\nevent: delete\n/);
    assert.match(enter!.main, /\nevent: create\n/);
    assert.equal(enter!.deps, '', 'the author was sent already');
    const quiet = new ConnectionRenderer(store, { filters: () => filters, dependencies: true, deletes: false, inferences: false });
    assert.equal(quiet.render(log.get(log.endN - 2)!).main, '', 'listen-delete=false');
  });
});

describe('TokenCheck', () => {
  const req = (authorization?: string): IncomingMessage => ({ headers: authorization === undefined ? {} : { authorization } }) as IncomingMessage;
  it('tells a missing header from a wrong token', () => {
    const check = new TokenCheck(['a', 'b']);
    assert.equal(check.check(req()), undefined);
    assert.equal(check.check(req('Bearer b')), true);
    assert.equal(check.check(req('Bearer c')), false);
    assert.equal(check.check(req('Basic a')), false);
  });
});

describe('faults', () => {
  it('builds each malformed kind around a valid indicator', () => {
    const sample = generator().indicator('ipv4');
    assert.throws(() => JSON.parse(malformedEvent('bad-json', sample).json) as unknown);
    assert.equal(malformedEvent('unknown-event', sample).rawEvent, 'frobnicate');
    assert.equal('data' in (JSON.parse(malformedEvent('missing-fields', sample).json) as object), false);
    assert.ok(malformedEvent('oversized', sample, { size: 100_000 }).json.length >= 100_000);
    assert.throws(() => malformedEvent('nope' as 'bad-json', sample), /unknown malformed kind/);
  });

  it('cuts only connections opened after the cut, `times` of them', () => {
    const cuts = new ConnectionCuts();
    cuts.add({ eventId: '1-0', at: 'inside', times: 2 }, 5);
    assert.equal(cuts.take(5, '1-0'), undefined, 'opened before');
    assert.equal(cuts.take(6, '2-0'), undefined, 'another event');
    assert.equal(cuts.take(6, '1-0')?.at, 'inside');
    assert.equal(cuts.take(7, '1-0')?.at, 'inside');
    assert.equal(cuts.take(8, '1-0'), undefined);
  });

  it('takes the API down with a status', () => {
    const outage = new GraphqlOutage();
    outage.set(true);
    assert.equal(outage.status, 503);
    outage.set(502);
    assert.equal(outage.status, 502);
    outage.set(false);
    assert.equal(outage.status, undefined);
  });
});

describe('StreamRegistry', () => {
  it('keeps the live switch and filters, and 404s unknown streams', () => {
    const streams = new StreamRegistry([{ id: 's', live: false }]);
    assert.equal(streams.get('s').live, false);
    streams.start('s');
    assert.equal(streams.get('s').live, true);
    streams.setFilters('s', { mode: 'and', filters: [{ key: ['revoked'], values: ['false'] }], filterGroups: [] });
    assert.ok(streams.get('s').def.filters);
    streams.setFilters('s', undefined);
    assert.equal('filters' in streams.get('s').def, false);
    assert.throws(() => streams.get('x'), /no stream x/);
    assert.equal(streams.connectionCount(), 0);
  });
});
