// The suite's own pieces: the oracle's rules on hand-written facts, and the history's coverage.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildHistory, type Facts, type History, type Step } from '../history.ts';
import { actionFor, expectedState, keyOf } from '../oracle.ts';

const NOW = Date.parse('2026-06-01T00:00:00Z');
const base: Facts = { entityId: 'a', type: 'IpAddress', value: '45.1.2.3', score: 80, tlp: 'TLP:GREEN', validUntil: undefined, revoked: false, detection: true, deleted: false };
const step = (...facts: Facts[]): Step => ({ kind: 'op', op: { op: 'delete', id: 'unused' }, facts });
const history = (...steps: Step[]): History => ({ steps, counts: {}, more: undefined as unknown as History['more'] });

test('score → action follows the writer README defaults; certificates only BlockAndRemediate', () => {
  assert.deepEqual([0, 1, 29, 30, 59, 60, 100].map((s) => actionFor('IpAddress', s)), ['Audit', 'Warn', 'Warn', 'Audit', 'Audit', 'Block', 'Block']);
  assert.equal(actionFor('FileSha256', 60), 'Block');
  assert.deepEqual([15, 45, 60].map((s) => actionFor('CertificateThumbprint', s)), [undefined, undefined, 'BlockAndRemediate']);
});

test('void claims: deleted, revoked, TLP:RED, expired, unsupported; detection off only when required; the last facts of an entity count', () => {
  const voids: Partial<Facts>[] = [{ deleted: true }, { revoked: true }, { tlp: 'TLP:RED' }, { validUntil: '2026-05-31T00:00:00Z' }, { type: undefined }];
  for (const v of voids) assert.equal(expectedState(history(step(base), step({ ...base, ...v })), { now: NOW }).size, 0, JSON.stringify(v));
  const off = history(step(base), step({ ...base, detection: false }));
  assert.equal(expectedState(off, { now: NOW }).size, 1, 'detection off is ignored by default, as OpenCTI’s Defender stream connector does');
  assert.equal(expectedState(off, { now: NOW, requireDetection: true }).size, 0, 'and voids the claim when the tenant requires detection');
  const back = expectedState(history(step({ ...base, tlp: 'TLP:RED' }), step({ ...base, score: 20 })), { now: NOW });
  assert.deepEqual([...back.values()], [{ type: 'IpAddress', value: '45.1.2.3', action: 'Warn', rbacGroupNames: [] }]);
  assert.equal(expectedState(history(step({ ...base, validUntil: '2026-07-01T00:00:00Z' })), { now: NOW }).size, 1);
});

test('several sources: the strongest live claim decides; a retracted one no longer counts; foreign keys are never ours', () => {
  const b: Facts = { ...base, entityId: 'b', score: 20 };
  assert.equal(expectedState(history(step(base), step(b)), { now: NOW }).get(keyOf('IpAddress', '45.1.2.3'))?.action, 'Block');
  assert.equal(expectedState(history(step(base), step(b), step({ ...base, deleted: true })), { now: NOW }).get(keyOf('IpAddress', '45.1.2.3'))?.action, 'Warn');
  assert.equal(expectedState(history(step(base)), { now: NOW, foreignKeys: new Set([keyOf('IpAddress', '45.1.2.3')]) }).size, 0);
  assert.deepEqual(expectedState(history(step(base)), { now: NOW, rbacGroupNames: ['b', 'a'] }).get(keyOf('IpAddress', '45.1.2.3'))?.rbacGroupNames, ['a', 'b']);
});

test('the history is deterministic for a seed and covers every type and every kind of step', () => {
  const a = buildHistory({ seed: 3, entities: 800, now: NOW });
  const b = buildHistory({ seed: 3, entities: 800, now: NOW });
  assert.deepEqual(JSON.stringify(a.steps), JSON.stringify(b.steps));
  for (const t of ['IpAddress', 'DomainName', 'Url', 'FileMd5', 'FileSha1', 'FileSha256', 'CertificateThumbprint']) assert.ok((a.counts[`create:${t}`] ?? 0) > 0, t);
  for (
    const k of [
      'observable:IpAddress',
      'update:score',
      'update:value',
      'update:tlp',
      'update:validity',
      'update:detection-off',
      'revoke',
      'delete',
      'merge',
      'second-source',
      'retract-second-source',
      'unsupported',
      'refused',
      'malformed',
    ]
  ) {
    assert.ok((a.counts[k] ?? 0) > 0, `${k}: ${JSON.stringify(a.counts)}`);
  }
  const expected = expectedState(a, { now: NOW });
  const actions = new Set([...expected.values()].map((e) => e.action));
  assert.deepEqual([...actions].sort(), ['Audit', 'Block', 'BlockAndRemediate', 'Warn']);
  // Some entities end absent for each reason, so "absent" is exercised, not only "present".
  assert.ok(expected.size < 800 && expected.size > 400, `${expected.size} expected of 800`);
});

test('a room: only the strongest keys are expected, by score then the later deciding event', () => {
  const at = (entityId: string, value: string, score: number): Facts => ({ ...base, entityId, value, score });
  const h = history(step(at('a', '45.1.2.1', 90)), step(at('b', '45.1.2.2', 50)), step(at('c', '45.1.2.3', 90)), step(at('d', '45.1.2.4', 20)), step(at('e', '45.1.2.5', 50)));
  const values = (room: number): string[] => [...expectedState(h, { now: NOW, room }).values()].map((e) => e.value).sort();
  assert.deepEqual(values(5), ['45.1.2.1', '45.1.2.2', '45.1.2.3', '45.1.2.4', '45.1.2.5']);
  assert.deepEqual(values(2), ['45.1.2.1', '45.1.2.3'], 'the two 90s');
  assert.deepEqual(values(3), ['45.1.2.1', '45.1.2.3', '45.1.2.5'], 'of the two 50s, the later');
  assert.deepEqual(values(0), []);
  // A later event on an entity (here a score change back to the same score) makes its key the later one.
  const touched = history(...h.steps, step(at('b', '45.1.2.2', 50)));
  assert.deepEqual([...expectedState(touched, { now: NOW, room: 3 }).values()].map((e) => e.value).sort(), ['45.1.2.1', '45.1.2.2', '45.1.2.3']);
  // Foreign keys and void claims take no room; a second source decides by its own strength.
  assert.deepEqual([...expectedState(h, { now: NOW, room: 2, foreignKeys: new Set([keyOf('IpAddress', '45.1.2.1')]) }).values()].map((e) => e.value).sort(), ['45.1.2.3', '45.1.2.5']);
  const second = history(...h.steps, step(at('f', '45.1.2.4', 95)));
  assert.deepEqual([...expectedState(second, { now: NOW, room: 1 }).values()].map((e) => [e.value, e.action]), [['45.1.2.4', 'Block']]);
});

test('a merge re-asserts its target: the target key dates from the merge step', () => {
  const h = buildHistory({ seed: 5, entities: 400, now: NOW });
  const merge = h.steps.find((s) => s.kind === 'op' && s.op.op === 'merge');
  assert.ok(merge?.kind === 'op' && merge.op.op === 'merge');
  assert.equal(merge.facts.length, 2);
  assert.equal(merge.facts[0]!.deleted, true, 'the absorbed entity');
  assert.equal(merge.facts[1]!.deleted, false, 'the target, as it stands');
});
