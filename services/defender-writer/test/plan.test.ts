import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CapIndex } from '../src/state/cap.ts';
import { foldCommands } from '../src/core/claims.ts';
import { desiredFor, identityOf, indicatorHash } from '../src/core/desired.ts';
import { applyOutcomes, chunk, deletesFirst, planBatch, replacedFirst, replacementDeletes, type KeyState, type Plan } from '../src/core/plan.ts';
import type { DefenderIndicator, ImportFailureCategory, ImportOutcome } from '../src/defender/model.ts';
import { ForeignIndex } from '../src/defender/foreign.ts';
import type { ForeignView } from '../src/core/plan.ts';
import type { ClaimCommand } from '../src/core/facts.ts';
import { DAY_MS } from '../src/core/policy.ts';
import { NOW, facts, policy, retract, upsert } from './helpers.ts';

const IP = 'IpAddress:203.0.113.7';

/** Runs plans against an in-memory store, as the orchestrator will, with every call succeeding. */
function harness(capacity = 100, p = policy()) {
  const store = new Map<string, KeyState>();
  const cap = new CapIndex(capacity);
  let nextId = 1;
  const lookup = (k: string) => store.get(k);
  const run = (
    commands: ClaimCommand[],
    now = NOW,
    fail: Record<string, { reason: string; permanent: boolean; category: ImportFailureCategory }> = {},
    opts: { foreign?: ForeignView; sameId?: boolean } = {},
  ) => {
    const plan = planBatch({ commands, lookup, policy: p, cap, now, foreign: opts.foreign });
    const imported = new Map<string, ImportOutcome>(
      plan.imports.flat().map((i): [string, ImportOutcome] => {
        const f = fail[i.key];
        // sameId: Defender updated the indicator in place (its upsert key did not change).
        const id = opts.sameId && i.replaces !== undefined ? i.replaces : String(nextId++);
        return [i.key, f ? { ok: false, ...f } : { ok: true, id }];
      }),
    );
    const deletedIds = new Set([...plan.deletes.flat(), ...replacementDeletes(plan, imported).flat()].map((d) => d.id));
    const applied = applyOutcomes(plan, { imported, deletedIds }, lookup, cap);
    for (const [k, v] of applied.states) {
      if (v) store.set(k, v);
      else store.delete(k);
    }
    return { plan, applied };
  };
  return { store, cap, run };
}

describe('desiredFor', () => {
  const p = policy();
  test('no claims → absent', () => assert.deepEqual(desiredFor([], p, NOW), { present: false, reason: 'no-claims' }));
  test('fields from the strongest claim, expiration from the latest eligible claim', () => {
    const claims = foldCommands([], [
      upsert('strong', facts({ score: 90, name: 'strong' }), NOW - 20 * DAY_MS),
      upsert('weak', facts({ score: 10, name: 'weak' }), NOW - 1000),
    ]);
    const d = desiredFor(claims, p, NOW);
    assert.ok(d.present);
    assert.equal(d.indicator.title, 'strong');
    assert.equal(d.indicator.action, 'Block');
    assert.equal(d.indicator.externalID, 'strong');
    assert.equal(Date.parse(d.indicator.expirationTime), Math.ceil((NOW - 1000) / DAY_MS) * DAY_MS + 30 * DAY_MS);
  });
  test('an ineligible strong claim leaves the field to the next one', () => {
    const claims = foldCommands([], [upsert('red', facts({ score: 90, markings: ['TLP:RED'] })), upsert('ok', facts({ score: 40 }))]);
    const d = desiredFor(claims, p, NOW);
    assert.ok(d.present);
    assert.equal(d.indicator.action, 'Audit');
  });
  test('no eligible claim → the strongest claim’s reason', () => {
    const claims = foldCommands([], [upsert('a', facts({ markings: ['TLP:RED'] })), upsert('b', facts({ score: 10, revoked: true }))]);
    assert.deepEqual(desiredFor(claims, p, NOW), { present: false, reason: 'tlp-never' });
  });
  test('the hash is stable and sensitive to every sent field', () => {
    const claims = foldCommands([], [upsert('a', facts())]);
    const a = desiredFor(claims, p, NOW);
    const b = desiredFor(claims, p, NOW + 3600_000);
    assert.ok(a.present && b.present);
    assert.equal(a.hash, b.hash);
    assert.notEqual(indicatorHash({ ...a.indicator, description: 'x' }), a.hash);
    assert.equal(indicatorHash({ ...a.indicator }), a.hash);
  });
  test('the hash of an indicator is the one stored states already hold (a different text would re-import every key)', () => {
    const full = {
      indicatorValue: 'https://exämple.org/a?b="c"',
      indicatorType: 'Url',
      action: 'Block',
      title: 'Tïtle 😀 "q"',
      description: 'd\\e',
      application: 'OpenCTI',
      severity: 'High',
      generateAlert: true,
      expirationTime: '2026-01-31T00:00:00Z',
      externalID: 'x-1',
      recommendedActions: 'r',
      rbacGroupNames: ['b', 'a'],
      educateUrl: 'https://edu.example',
    } as const;
    // Changed once on purpose: `externalId` became Defender's documented `externalID`, so every key is
    // re-imported once after the upgrade (30 calls for 15,000) and Defender gets the correlation id.
    assert.equal(indicatorHash(full), '_5Qyg527XhWzGJv48KaE7p');
    // Key order does not matter.
    assert.equal(indicatorHash(Object.fromEntries(Object.entries(full).reverse()) as unknown as DefenderIndicator), '_5Qyg527XhWzGJv48KaE7p');
    const minimal = {
      indicatorValue: '1.2.3.4',
      indicatorType: 'IpAddress',
      action: 'Audit',
      title: 't',
      description: 'd',
      application: 'a',
      severity: 'Low',
      generateAlert: false,
      expirationTime: '2026-01-31T00:00:00Z',
    } as const;
    assert.equal(indicatorHash({ ...minimal, externalID: undefined }), 'bNqq1HkQH3aN2q17zXg8kI');
    // Index-like and __proto__ keys, nested objects: the same canonical text as ever.
    const odd = JSON.parse('{"b":1,"10":"x","9":[true,null],"__proto__":"p","a":{"z":1,"y":[1,{"k":"v"}]}}') as DefenderIndicator;
    assert.equal(indicatorHash(odd), 'R3vJh_hy-kJO3gJW8dmJxY');
  });
  test('identity = action + sorted device groups', () => {
    assert.equal(identityOf('Block', ['b', 'a']), 'Block|a|b');
    assert.equal(identityOf('Warn', undefined), 'Warn');
  });
});

describe('planBatch', () => {
  test('new keys are imported, replays of the same commands cost nothing', () => {
    const h = harness();
    const cmds = [upsert('a', facts()), upsert('b', facts({ value: '198.51.100.1' }))];
    const first = h.run(cmds);
    assert.equal(first.plan.imports.flat().length, 2);
    assert.equal(h.store.get(IP)?.applied?.id, '1');
    const again = h.run(cmds);
    assert.equal(again.plan.imports.length, 0);
    assert.deepEqual([...again.plan.unchanged].sort(), ['IpAddress:198.51.100.1', IP]);
  });
  test('several commands for one key in a batch fold to one import', () => {
    const h = harness();
    const { plan } = h.run([upsert('a', facts({ score: 10 }), NOW - 10), upsert('a', facts({ score: 80 }), NOW - 5), upsert('b', facts({ score: 20 }))]);
    assert.equal(plan.imports.flat().length, 1);
    assert.equal(plan.imports[0]?.[0]?.indicator.action, 'Block');
  });
  test('a field change re-imports with the same identity (no delete)', () => {
    const h = harness();
    h.run([upsert('a', facts({ name: 'one' }))]);
    const { plan } = h.run([upsert('a', facts({ name: 'two' }), NOW - 500)]);
    assert.equal(plan.imports.flat().length, 1);
    assert.equal(plan.imports[0]?.[0]?.replaces, undefined);
    assert.equal(plan.deletes.length, 0);
  });
  test('an action change imports the new one, then deletes the old id', () => {
    const h = harness();
    h.run([upsert('a', facts({ score: 80 }))]);
    const { plan } = h.run([upsert('a', facts({ score: 40 }), NOW - 500)]);
    const imp = plan.imports[0]?.[0];
    assert.equal(imp?.indicator.action, 'Audit');
    assert.equal(imp?.replaces, '1');
    assert.equal(plan.deletes.length, 0);
    assert.equal(h.store.get(IP)?.applied?.id, '2');
    assert.equal(h.store.get(IP)?.staleIds, undefined);
  });
  test('a failed replacement keeps the old indicator; a failed old delete is retried later', () => {
    const h = harness();
    h.run([upsert('a', facts({ score: 80 }))]);
    const plan = planBatch({ commands: [upsert('a', facts({ score: 40 }), NOW - 500)], lookup: (k) => h.store.get(k), policy: policy(), cap: h.cap, now: NOW });
    const failed = new Map([[IP, { ok: false as const, reason: 'busy', permanent: false, category: 'unknown' as const }]]);
    assert.deepEqual(replacementDeletes(plan, failed), []);
    const ok = new Map([[IP, { ok: true as const, id: '9' }]]);
    assert.deepEqual(replacementDeletes(plan, ok).flat().map((d) => d.id), ['1']);
    const applied = applyOutcomes(plan, { imported: ok, deletedIds: new Set() }, (k) => h.store.get(k), h.cap);
    assert.deepEqual(applied.states.get(IP)?.staleIds, ['1']);
    assert.deepEqual(applied.pending, [IP]);
    h.store.set(IP, applied.states.get(IP) as KeyState);
    const next = planBatch({ commands: [], lookup: (k) => h.store.get(k), policy: policy(), cap: h.cap, now: NOW, pending: applied.pending });
    assert.deepEqual(next.staleDeletes.map((d) => d.id), ['1']);
    assert.deepEqual(next.unchanged, [IP]);
  });
  test('an action flip in a full room deletes the old id first; a failed import then leaves nothing applied', () => {
    const h = harness(1);
    h.run([upsert('a', facts({ score: 80 }))]);
    const lookup = (k: string) => h.store.get(k);
    const plan = planBatch({ commands: [upsert('a', facts({ score: 40 }), NOW - 500)], lookup, policy: policy(), cap: h.cap, now: NOW });
    assert.deepEqual(replacedFirst(plan, 1, 1, false, lookup), [{ key: IP, id: '1', reason: 'replaced' }]);
    assert.deepEqual(replacedFirst(plan, 1, 2, false, lookup), [], 'with a free place the old one stays until its replacement is in');
    // Deleted first, the import then failed: Defender holds neither; the key is planned again as new.
    const failed = new Map([[IP, { ok: false as const, reason: 'busy', permanent: false, category: 'unknown' as const }]]);
    const out = applyOutcomes(plan, { imported: failed, deletedIds: new Set(['1']) }, lookup, h.cap);
    assert.equal(out.states.get(IP)?.applied, undefined);
    assert.deepEqual(out.pending, [IP]);
    // Deleted first and imported: the new id, nothing stale, nothing left to delete after.
    const ok = new Map([[IP, { ok: true as const, id: '7' }]]);
    const done = applyOutcomes(plan, { imported: ok, deletedIds: new Set(['1']) }, lookup, h.cap);
    assert.equal(done.states.get(IP)?.applied?.id, '7');
    assert.equal(done.states.get(IP)?.staleIds, undefined);
  });
  test('retracting the last claim deletes; retracting one of two keeps the indicator', () => {
    const h = harness();
    h.run([upsert('a', facts({ score: 80 })), upsert('b', facts({ score: 80 }), NOW - 2000)]);
    const one = h.run([retract('b', IP)]);
    assert.equal(one.plan.deletes.length, 0);
    const two = h.run([retract('a', IP)]);
    assert.deepEqual(two.plan.deletes.flat().map((d) => [d.id, d.reason]), [['1', 'no-claims']]);
    assert.equal(h.store.has(IP), false);
  });
  test('the strongest remaining claim takes over after a retract', () => {
    const h = harness();
    h.run([upsert('a', facts({ score: 80, name: 'A' })), upsert('b', facts({ score: 70, name: 'B' }))]);
    const { plan } = h.run([retract('a', IP)]);
    assert.equal(plan.imports[0]?.[0]?.indicator.title, 'B');
  });
  test('a policy drop of a sent indicator deletes it, with the reason', () => {
    const h = harness();
    h.run([upsert('a', facts())]);
    const { plan } = h.run([upsert('a', facts({ markings: ['TLP:RED'] }), NOW - 500)]);
    assert.deepEqual(plan.deletes.flat().map((d) => d.reason), ['tlp-never']);
    assert.deepEqual(plan.dropped, [{ key: IP, reason: 'tlp-never' }]);
    assert.deepEqual(h.store.get(IP)?.applied, undefined);
    assert.equal(h.store.get(IP)?.claims.length, 1);
  });
  test('a never-sent dropped key costs nothing', () => {
    const h = harness();
    const { plan } = h.run([upsert('a', facts({ value: '10.0.0.1' }))]);
    assert.equal(plan.imports.length + plan.deletes.length, 0);
    assert.deepEqual(plan.dropped, [{ key: 'IpAddress:10.0.0.1', reason: 'reserved-address' }]);
  });
  test('an expired indicator is not deleted (Defender already did)', () => {
    const h = harness();
    h.run([upsert('a', facts())]);
    const later = NOW + 40 * DAY_MS;
    const { plan } = h.run([upsert('b', facts({ value: '198.51.100.9' }), later - 1000)], later);
    assert.equal(plan.deletes.length, 0);
    assert.deepEqual(plan.gone, []);
    const { plan: p2 } = h.run([retract('a', IP, later)], later);
    assert.equal(p2.deletes.length, 0);
    assert.deepEqual(p2.gone, [IP]);
    assert.equal(h.store.has(IP), false);
  });
  test('the cap keeps the strongest, evicts the weakest and re-adds it when room frees', () => {
    const h = harness(2);
    h.run([upsert('a', facts({ value: '198.51.100.1', score: 30 })), upsert('b', facts({ value: '198.51.100.2', score: 50 }))]);
    const { plan } = h.run([upsert('c', facts({ value: '198.51.100.3', score: 90 }))]);
    assert.deepEqual(plan.imports.flat().map((i) => i.key), ['IpAddress:198.51.100.3']);
    assert.deepEqual(plan.deletes.flat().map((d) => [d.key, d.reason]), [['IpAddress:198.51.100.1', 'over-cap']]);
    const freed = h.run([retract('c', 'IpAddress:198.51.100.3')]);
    assert.deepEqual(freed.plan.imports.flat().map((i) => i.key), ['IpAddress:198.51.100.1']);
    assert.deepEqual(freed.plan.deletes.flat().map((d) => d.key), ['IpAddress:198.51.100.3']);
  });
  test('deletes go before the imports only when the indicators the imports create would not fit otherwise', () => {
    const h = harness(2);
    const lookup = (k: string) => h.store.get(k);
    const held = () => [...h.store.values()].filter((s) => s.applied).length;
    h.run([upsert('a', facts({ value: '198.51.100.1', score: 30 })), upsert('b', facts({ value: '198.51.100.2', score: 50 }))]);
    // An eviction for a newcomer: the newcomer needs the evicted one's place.
    const evict = planBatch({ commands: [upsert('c', facts({ value: '198.51.100.3', score: 90 }))], lookup, policy: policy(), cap: h.cap, now: NOW });
    assert.equal(evict.deletes.flat().length, 1);
    assert.equal(deletesFirst(evict, held(), h.cap.capacity, lookup), true);
    assert.equal(deletesFirst(evict, held(), 3, lookup), false, 'with room for the newcomer the delete can wait');
    // An action flip creates a second indicator until its old id goes: it counts as a create.
    const wide = harness(10);
    wide.run([upsert('a', facts({ value: '198.51.100.1', score: 80 })), upsert('b', facts({ value: '198.51.100.2', score: 80 }))]);
    const flip = planBatch({
      commands: [upsert('a', facts({ value: '198.51.100.1', score: 20 }), NOW - 500), retract('b', 'IpAddress:198.51.100.2')],
      lookup: (k) => wide.store.get(k),
      policy: policy(),
      cap: wide.cap,
      now: NOW,
    });
    assert.equal(flip.imports.flat()[0]?.replaces, '1');
    assert.equal(deletesFirst(flip, 2, 3, (k) => wide.store.get(k)), false);
    assert.equal(deletesFirst(flip, 2, 2, (k) => wide.store.get(k)), true);
    // An update in place creates nothing; no delete, nothing to order.
    const update = planBatch({
      commands: [upsert('a', facts({ value: '198.51.100.1', score: 80, name: 'renamed' }), NOW - 400)],
      lookup: (k) => wide.store.get(k),
      policy: policy(),
      cap: wide.cap,
      now: NOW,
    });
    assert.equal(deletesFirst(update, 2, 2, (k) => wide.store.get(k)), false);
  });
  test('a weak newcomer over the cap waits without any call', () => {
    const h = harness(1);
    h.run([upsert('a', facts({ score: 90 }))]);
    const { plan } = h.run([upsert('b', facts({ value: '198.51.100.1', score: 10 }))]);
    assert.equal(plan.imports.length + plan.deletes.length, 0);
    assert.deepEqual(plan.dropped, [{ key: 'IpAddress:198.51.100.1', reason: 'over-cap' }]);
  });
  test('a permanent rejection is reported once and not retried until the facts change', () => {
    const h = harness();
    const first = h.run([upsert('a', facts())], NOW, { [IP]: { reason: 'Invalid IP', permanent: true, category: 'invalid' } });
    assert.deepEqual(first.applied.rejected, [{ key: IP, reason: 'Invalid IP', category: 'invalid' }]);
    const again = h.run([upsert('a', facts())]);
    assert.deepEqual(again.plan.dropped, [{ key: IP, reason: 'rejected' }]);
    assert.equal(again.plan.imports.length, 0);
    const changed = h.run([upsert('a', facts({ name: 'new' }), NOW - 10)]);
    assert.equal(changed.plan.imports.flat().length, 1);
  });
  test('a redriven command sends a refused version again once; applied, a second redrive costs nothing', () => {
    const h = harness();
    h.run([upsert('a', facts())], NOW, { [IP]: { reason: 'Invalid IP', permanent: true, category: 'invalid' } });
    const redrive = { ...upsert('a', facts()), redrive: '1:7' };
    const first = h.run([redrive]);
    assert.equal(first.plan.imports.flat().length, 1);
    assert.equal(h.store.get(IP)?.rejectedHash, undefined);
    assert.ok(h.store.get(IP)?.applied);
    const second = h.run([{ ...redrive, redrive: '1:8' }]);
    assert.equal(second.plan.imports.flat().length, 0);
    assert.deepEqual(second.plan.unchanged, [IP]);
  });
  test('a redriven command folded without a call (quota) is still sent by the pending re-plan', () => {
    const h = harness();
    h.run([upsert('a', facts())], NOW, { [IP]: { reason: 'Invalid IP', permanent: true, category: 'invalid' } });
    const lookup = (k: string) => h.store.get(k);
    const folded = planBatch({ commands: [{ ...upsert('a', facts()), redrive: '1:7' }], lookup, policy: policy(), cap: h.cap, now: NOW });
    assert.equal(folded.imports.flat().length, 1);
    const applied = applyOutcomes(folded, { imported: new Map(), deletedIds: new Set() }, lookup, h.cap);
    assert.deepEqual(applied.pending, [IP]);
    for (const [k, v] of applied.states) if (v) h.store.set(k, v);
    const later = planBatch({ commands: [], lookup, policy: policy(), cap: h.cap, now: NOW, pending: applied.pending });
    assert.equal(later.imports.flat().length, 1);
  });
  test('a redriven command Defender refuses again is reported again', () => {
    const h = harness();
    const refusal = { [IP]: { reason: 'Invalid IP', permanent: true, category: 'invalid' } } as const;
    h.run([upsert('a', facts())], NOW, refusal);
    const again = h.run([{ ...upsert('a', facts()), redrive: '0:1' }], NOW, refusal);
    assert.deepEqual(again.applied.rejected, [{ key: IP, reason: 'Invalid IP', category: 'invalid' }]);
  });
  test('a transient failure leaves the key pending and unapplied', () => {
    const h = harness();
    const r = h.run([upsert('a', facts())], NOW, { [IP]: { reason: 'busy', permanent: false, category: 'unknown' } });
    assert.deepEqual(r.applied.pending, [IP]);
    assert.equal(h.store.get(IP)?.applied, undefined);
    const plan = planBatch({ commands: [], lookup: (k) => h.store.get(k), policy: policy(), cap: h.cap, now: NOW, pending: r.applied.pending });
    assert.equal(plan.imports.flat().length, 1);
  });
  test('chunks of at most 500', () => {
    const h = harness(2000);
    const cmds = Array.from({ length: 1201 }, (_, i) => upsert(`s${i}`, facts({ value: `198.51.${100 + Math.floor(i / 250)}.${i % 250}` })));
    const { plan } = h.run(cmds);
    assert.deepEqual(plan.imports.map((c) => c.length), [500, 500, 201]);
    assert.deepEqual(chunk([1, 2, 3], 2), [[1, 2], [3]]);
  });
  test('keys of a plan are exactly the touched and the cap-moved ones', () => {
    const h = harness();
    const { plan }: { plan: Plan } = h.run([upsert('a', facts())]);
    assert.deepEqual(plan.keys, [IP]);
  });
  test('an unchanged key keeps its state object (a replay writes nothing)', () => {
    const h = harness();
    const cmd = upsert('a', facts());
    h.run([cmd]);
    const before = h.store.get(IP);
    const { applied } = h.run([cmd]);
    assert.equal(applied.states.get(IP), before);
  });
  test('touchedOnly (catching up): the cap still ranks, but only the commands’ keys are planned, nothing is sent for moved keys', () => {
    const h = harness(1);
    const ip = (i: number) => facts({ value: `198.51.100.${i}`, score: 10 * i });
    h.run([upsert('a', ip(1))]);
    assert.equal(h.store.get('IpAddress:198.51.100.1')?.applied !== undefined, true);
    const lookup = (k: string) => h.store.get(k);
    const plan = planBatch({ commands: [upsert('b', ip(5))], lookup, policy: policy(), cap: h.cap, now: NOW, touchedOnly: true });
    assert.deepEqual(plan.keys, ['IpAddress:198.51.100.5']);
    assert.equal(plan.deletes.length, 0, 'the evicted key waits for the sync');
    assert.equal(plan.imports.flat().length, 1);
    assert.equal(h.cap.isAdmitted('IpAddress:198.51.100.1'), false);
    // The sync (an ordinary plan) then deletes the evicted one.
    const sync = planBatch({ commands: [], lookup, policy: policy(), cap: h.cap, now: NOW });
    assert.deepEqual(sync.deletes.flat().map((d) => d.key), ['IpAddress:198.51.100.1']);
  });
  test('maxKeys bounds a plan; evictions come before admissions and the rest is counted as remaining', () => {
    const h = harness(3);
    const f = (i: number, score: number) => facts({ value: `198.51.100.${i}`, score });
    h.run([1, 2, 3].map((i) => upsert(`s${i}`, f(i, 10))));
    const lookup = (k: string) => h.store.get(k);
    // Three stronger keys arrive while catching up: three evictions and three admissions pending.
    planBatch({ commands: [4, 5, 6].map((i) => upsert(`s${i}`, f(i, 90))), lookup, policy: policy(), cap: h.cap, now: NOW, touchedOnly: true });
    const round = planBatch({ commands: [], lookup, policy: policy(), cap: h.cap, now: NOW, maxKeys: 2 });
    assert.equal(round.keys.length, 2);
    assert.equal(round.remaining, 4);
    assert.equal(round.imports.length, 0, 'nothing is imported while evictions are left');
    assert.equal(round.deletes.flat().length, 2);
  });
});

describe('identity changes Defender applies in place', () => {
  test('only the RBAC groups change: Defender answers with the same id, which is neither deleted nor kept as stale', () => {
    const h = harness(100, policy({ rbacGroupNames: ['A'] }));
    h.run([upsert('a', facts())]);
    const before = h.store.get(IP)?.applied;
    assert.ok(before);
    // The operator changes the groups: a new identity, the same Defender upsert key (value + type + action).
    const plan = planBatch({ commands: [], lookup: (k) => h.store.get(k), policy: policy({ rbacGroupNames: ['B'] }), cap: h.cap, now: NOW, pending: [IP] });
    const imp = plan.imports.flat()[0];
    assert.equal(imp?.replaces, before.id);
    const sameId = new Map<string, ImportOutcome>([[IP, { ok: true, id: before.id }]]);
    assert.deepEqual(replacementDeletes(plan, sameId).flat(), [], 'the id the import just returned is not deleted');
    const applied = applyOutcomes(plan, { imported: sameId, deletedIds: new Set() }, (k) => h.store.get(k), h.cap);
    assert.equal(applied.states.get(IP)?.applied?.id, before.id);
    assert.equal(applied.states.get(IP)?.staleIds, undefined);
    assert.deepEqual(applied.pending, []);
  });
});

describe('another creator’s indicators', () => {
  const theirs = (value: string, id = '900', action = 'Block') => ForeignIndex.fromRecords([{ id, indicatorValue: value, indicatorType: 'IpAddress', action, createdBy: 'analyst-app' }], 'our-client');
  test('a key another creator holds is held back (foreign-indicator): no import, no cap room', () => {
    const h = harness(1);
    const foreign = theirs('203.0.113.7');
    const { plan } = h.run([upsert('a', facts()), upsert('b', facts({ value: '198.51.100.1' }))], NOW, {}, { foreign });
    assert.deepEqual(plan.dropped, [{ key: IP, reason: 'foreign-indicator' }]);
    assert.deepEqual(plan.imports.flat().map((i) => i.key), ['IpAddress:198.51.100.1'], 'the cap room went to the other key');
    assert.equal(h.store.get(IP)?.applied, undefined);
    assert.ok(h.store.get(IP)?.claims.length, 'the claims are kept for when the other indicator goes');
  });
  test('matching is by comparable value (case, a URL’s trailing slash), whatever the action', () => {
    const index = ForeignIndex.fromRecords(
      [
        { id: '1', indicatorValue: 'https://Example.com/path/', indicatorType: 'Url', action: 'Allowed', createdBy: 'x' },
        { id: '2', indicatorValue: 'ABCDEF0123456789ABCDEF0123456789', indicatorType: 'FileMd5', action: 'Block', createdBy: 'x' },
        { id: '3', indicatorValue: '198.51.100.9', indicatorType: 'IpAddress', action: 'Block', createdBy: 'OUR-CLIENT' },
      ],
      'our-client',
    );
    assert.equal(index.holds('Url:https://example.com/path'), true);
    assert.equal(index.holds('FileMd5:abcdef0123456789abcdef0123456789'), true);
    assert.equal(index.holds('IpAddress:198.51.100.9'), false, 'ours (client ids compare case-insensitively)');
    assert.equal(index.isForeignId('3'), false);
    assert.equal(index.isForeignId('1'), true);
  });
  test('our own indicator of a value another creator then holds is deleted (their decision stands); theirs never', () => {
    const h = harness();
    h.run([upsert('a', facts())]);
    const ours = h.store.get(IP)?.applied?.id;
    assert.ok(ours);
    const foreign = theirs('203.0.113.7', '900', 'Allowed');
    const plan = planBatch({ commands: [], lookup: (k) => h.store.get(k), policy: policy(), cap: h.cap, now: NOW, pending: [IP], foreign });
    assert.deepEqual(plan.deletes.flat().map((d) => [d.id, d.reason]), [[ours, 'foreign-indicator']]);
    assert.equal(plan.imports.length, 0);
  });
  test('an id a state holds that turns out to be another creator’s is forgotten, never deleted; a stale one too', () => {
    const h = harness();
    h.store.set(IP, { claims: foldCommands([], [upsert('a', facts())]), applied: { id: '900', identity: 'Block', hash: 'h', expiresAt: NOW + DAY_MS }, staleIds: ['901'] });
    const foreign = ForeignIndex.fromRecords(
      [
        { id: '900', indicatorValue: '192.0.2.1', indicatorType: 'IpAddress', action: 'Block', createdBy: 'x' },
        { id: '901', indicatorValue: '192.0.2.2', indicatorType: 'IpAddress', action: 'Block', createdBy: 'x' },
      ],
      'our-client',
    );
    const plan = planBatch({ commands: [], lookup: (k) => h.store.get(k), policy: policy(), cap: h.cap, now: NOW, pending: [IP], foreign });
    assert.deepEqual(plan.dropped, [{ key: IP, reason: 'foreign-indicator' }]);
    assert.deepEqual([...plan.deletes.flat(), ...plan.staleDeletes], [], 'nothing of theirs is deleted');
    assert.deepEqual(plan.released, ['901']);
    const applied = applyOutcomes(plan, { imported: new Map(), deletedIds: new Set() }, (k) => h.store.get(k), h.cap);
    const next = applied.states.get(IP);
    assert.equal(next?.applied, undefined);
    assert.equal(next?.staleIds, undefined);
  });
  test('once the other indicator is gone, the key is planned again', () => {
    const h = harness();
    h.run([upsert('a', facts())], NOW, {}, { foreign: theirs('203.0.113.7') });
    const plan = planBatch({ commands: [], lookup: (k) => h.store.get(k), policy: policy(), cap: h.cap, now: NOW, pending: [IP], foreign: ForeignIndex.fromRecords([], 'our-client') });
    assert.deepEqual(plan.imports.flat().map((i) => i.key), [IP]);
  });
});
