import assert from 'node:assert/strict';
import { test } from 'node:test';
import { uuid5 } from '@octi-defender/indicators';
import { desired, describe as describeRecord, foldAlert, MAX_ALERTS_PER_RECORD, MAX_DEVICES_LISTED, needsWrite, recordKey, type SightingRecord } from '../src/aggregate.ts';
import { parseAlert, type Alert } from '../src/alert.ts';
import { foldAlerts } from '../src/fold.ts';
import { evidenceKeys, matchAlert, hasIndicatorEvidence, type OwnedIndex } from '../src/match.ts';
import { decodePosition, decodeRecord, encodePosition, encodeRecord } from '../src/records.ts';
import { chunkBySize } from '../src/reporter.ts';
import { canonicalize, daySightingId, dayBounds, sightingStixId } from '../src/sighting-id.ts';

const SHA256 = 'dc0ade0c95d6db98882bc8fa6707e64353cd6f7767ff48d6a81a6c2aef21c608';
const SHA1 = '8563f95b2f8a284fc99da44500cd51a77c1ff36c';

function alert(over: Record<string, unknown> = {}): Alert {
  const r = parseAlert({
    id: 'da637472900382838869_1364969609',
    detectionSource: 'CustomerTI',
    title: 't',
    alertCreationTime: '2026-12-05T20:33:57.7220239Z',
    firstEventTime: '2026-12-05T20:31:32.9562661Z',
    lastEventTime: '2026-12-05T20:31:33.0577322Z',
    lastUpdateTime: '2026-12-05T20:33:59.2Z',
    machineId: '111e6dd8c833c8a052ea231ec1b19adaf497b625',
    computerDnsName: 'host1.contoso.com',
    evidence: [{ entityType: 'File', sha1: SHA1, sha256: SHA256, ipAddress: null, url: null }],
    ...over,
  });
  assert.ok(r.ok, JSON.stringify(r));
  return r.alert;
}

test('uuid5 and canonical JSON agree with Python (uuid.uuid5, json.dumps sorted and compact)', () => {
  assert.equal(uuid5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org'), '886313e1-3b8a-5372-9b90-0c9aee199e5d');
  assert.equal(canonicalize({ b: ['x', 'y'], a: 'é"' }), '{"a":"é\\"","b":["x","y"]}');
  // pycti StixSightingRelationship.generate_id("indicator--1", ["identity--2"], day start, day end), computed with Python.
  assert.equal(sightingStixId('indicator--1', ['identity--2'], '2026-12-06T00:00:00.000Z', '2026-12-06T23:59:59.999Z'), 'sighting--087595ee-1cca-5c41-ab01-0166c95706ff');
  assert.equal(daySightingId('indicator--1', 'identity--2', '2026-12-06'), 'sighting--087595ee-1cca-5c41-ab01-0166c95706ff');
  assert.notEqual(daySightingId('indicator--1', 'identity--2', '2026-12-07'), daySightingId('indicator--1', 'identity--2', '2026-12-06'));
  assert.notEqual(sightingStixId('a', ['b']), sightingStixId('a', ['b'], '2026-12-06T00:00:00.000Z'));
  assert.throws(() => dayBounds('2026-13-45'), /not a day/);
  assert.throws(() => canonicalize(1), TypeError);
});

test('parseAlert keeps the documented fields and refuses what cannot be counted', () => {
  const a = alert();
  assert.equal(a.firstEventTime, '2026-12-05T20:31:32.956Z');
  assert.equal(a.evidence.length, 1);
  assert.deepEqual(parseAlert(null), { ok: false, reason: 'not an object' });
  assert.deepEqual(parseAlert({ lastUpdateTime: '2026-12-05T00:00:00Z' }), { ok: false, reason: 'no id' });
  assert.equal(parseAlert({ id: 'x' }).ok, false);
  assert.match((parseAlert({ id: 'x', lastUpdateTime: '2026-12-05T00:00:00Z' }) as { reason: string }).reason, /firstEventTime/);
  assert.match((parseAlert({ id: 'x', lastUpdateTime: '2026-12-05T00:00:00Z', alertCreationTime: '2026-12-05T00:00:00Z', evidence: 'no' }) as { reason: string }).reason, /evidence/);
  // Only alertCreationTime: it stands for both event times; no evidence expanded is an empty list.
  const bare = parseAlert({ id: 'x', lastUpdateTime: '2026-12-05T00:00:01Z', alertCreationTime: '2026-12-05T00:00:00Z' });
  assert.ok(bare.ok);
  assert.equal(bare.alert.lastEventTime, '2026-12-05T00:00:00.000Z');
  assert.deepEqual(bare.alert.evidence, []);
});

test('evidence names hashes, addresses, URLs and every parent domain of a URL host', () => {
  assert.deepEqual(evidenceKeys({ entityType: 'File', sha1: SHA1.toUpperCase(), sha256: SHA256, ipAddress: null, url: null }), [`FileSha1:${SHA1}`, `FileSha256:${SHA256}`]);
  assert.deepEqual(evidenceKeys({ entityType: 'Ip', sha1: null, sha256: null, ipAddress: '45.33.32.156', url: null }), ['IpAddress:45.33.32.156']);
  assert.deepEqual(evidenceKeys({ entityType: 'Url', sha1: null, sha256: null, ipAddress: null, url: 'https://a.b.Example.com/x/' }), [
    'Url:https://a.b.example.com/x',
    'DomainName:a.b.example.com',
    'DomainName:b.example.com',
    'DomainName:example.com',
  ]);
  assert.deepEqual(evidenceKeys({ entityType: 'Url', sha1: null, sha256: null, ipAddress: null, url: 'evil.example.net' }), ['DomainName:evil.example.net', 'DomainName:example.net']);
  assert.deepEqual(evidenceKeys({ entityType: 'Url', sha1: null, sha256: null, ipAddress: null, url: 'http://45.33.32.9/p' }), ['Url:http://45.33.32.9/p', 'IpAddress:45.33.32.9']);
  assert.deepEqual(evidenceKeys({ entityType: 'User', sha1: null, sha256: null, ipAddress: null, url: null }), []);
  assert.deepEqual(evidenceKeys({ entityType: 'File', sha1: 'nothex', sha256: null, ipAddress: 'not an ip', url: 'ftp://x.example.com/' }), []);
});

test('matchAlert returns the OpenCTI ids of our indicators only', () => {
  const owned: OwnedIndex = new Map([
    [`FileSha256:${SHA256}`, new Set(['ind-a', 'obs-b'])],
    ['DomainName:example.com', new Set(['ind-d'])],
  ]);
  assert.deepEqual(matchAlert(alert(), owned), ['ind-a', 'obs-b']);
  const url = alert({ evidence: [{ entityType: 'Url', url: 'https://x.example.com/a' }, { entityType: 'File', sha256: SHA256 }] });
  assert.deepEqual(matchAlert(url, owned), ['ind-a', 'ind-d', 'obs-b']);
  const foreign = alert({ evidence: [{ entityType: 'Ip', ipAddress: '45.33.32.199' }] });
  assert.deepEqual(matchAlert(foreign, owned), []);
  assert.equal(hasIndicatorEvidence(foreign), true);
  assert.equal(hasIndicatorEvidence(alert({ evidence: [{ entityType: 'User' }] })), false);
});

test('folding is idempotent: the count is the number of distinct alerts, first/last seen widen', () => {
  const a1 = alert({ id: 'a1' });
  const a2 = alert({ id: 'a2', firstEventTime: '2026-12-05T08:00:00Z', lastEventTime: '2026-12-05T23:00:00Z', computerDnsName: 'host2' });
  const r1 = foldAlert(undefined, a1, 'ind', 'where');
  assert.equal(r1.outcome, 'new');
  assert.equal(r1.record.day, '2026-12-05');
  const again = foldAlert(r1.record, a1, 'ind', 'where');
  assert.equal(again.outcome, 'unchanged');
  assert.equal(again.record, r1.record);
  const r2 = foldAlert(r1.record, a2, 'ind', 'where');
  assert.equal(r2.outcome, 'changed');
  assert.deepEqual(r2.record.alertIds, ['a1', 'a2']);
  assert.equal(r2.record.firstSeen, '2026-12-05T08:00:00.000Z');
  assert.equal(r2.record.lastSeen, '2026-12-05T23:00:00.000Z');
  assert.deepEqual(r2.record.devices, ['host1.contoso.com', 'host2']);
  // Order does not matter.
  const other = foldAlert(foldAlert(undefined, a2, 'ind', 'where').record, a1, 'ind', 'where').record;
  assert.deepEqual(other, r2.record);
  // An update of an alert already counted that extends its last event changes last seen, not the count.
  const later = foldAlert(r2.record, alert({ id: 'a1', lastEventTime: '2026-12-05T23:30:00Z' }), 'ind', 'where');
  assert.equal(later.outcome, 'changed');
  assert.equal(later.record.alertIds.length, 2);
  assert.equal(later.record.lastSeen, '2026-12-05T23:30:00.000Z');
});

test('records are bounded: alert ids up to the cap, devices listed up to their limit', () => {
  let r: SightingRecord = { ...foldAlert(undefined, alert({ id: 'x' }), 'i', 'w').record, alertIds: Array.from({ length: MAX_ALERTS_PER_RECORD }, (_, i) => `id${String(i).padStart(6, '0')}`) };
  assert.equal(foldAlert(r, alert({ id: 'zzz' }), 'i', 'w').outcome, 'over_cap');
  assert.equal(foldAlert(r, alert({ id: 'id000001' }), 'i', 'w').outcome, 'unchanged');
  r = foldAlert(undefined, alert({ id: 'd0', computerDnsName: 'h00' }), 'i', 'w').record;
  for (let i = 1; i <= MAX_DEVICES_LISTED + 2; i++) r = foldAlert(r, alert({ id: `d${i}`, computerDnsName: `h${String(i).padStart(2, '0')}` }), 'i', 'w').record;
  assert.equal(r.devices.length, MAX_DEVICES_LISTED);
  assert.equal(r.moreDevices, true);
  assert.equal(r.alertIds.length, MAX_DEVICES_LISTED + 3);
  assert.match(describeRecord(r, 'contoso'), /^Microsoft Defender for Endpoint \(contoso\): 23 alerts raised by the custom indicator on 2026-12-05 \(UTC\)\. Devices: h00, .* and others\.$/);
  // Without a DNS name the machine id names the device.
  const m = foldAlert(undefined, alert({ computerDnsName: null }), 'i', 'w').record;
  assert.deepEqual(m.devices, ['111e6dd8c833c8a052ea231ec1b19adaf497b625']);
});

test('foldAlerts: one record per (indicator, where, day), unmatched alerts skipped, replays change nothing', () => {
  const owned: OwnedIndex = new Map([[`FileSha256:${SHA256}`, new Set(['ind-a'])]]);
  const alerts = [
    alert({ id: 'a1' }),
    alert({ id: 'a2' }),
    alert({ id: 'a3', firstEventTime: '2026-12-06T01:00:00Z', lastEventTime: '2026-12-06T01:00:00Z' }),
    alert({ id: 'n1', evidence: [{ entityType: 'Ip', ipAddress: '45.33.32.5' }] }),
  ];
  const store = new Map<string, SightingRecord>();
  const first = foldAlerts((k) => store.get(k), alerts, owned, 'w');
  assert.equal(first.matched, 3);
  assert.deepEqual(first.unmatched.map((a) => a.id), ['n1']);
  assert.deepEqual([...first.changed.keys()].sort(), [recordKey('ind-a', 'w', '2026-12-05'), recordKey('ind-a', 'w', '2026-12-06')]);
  assert.deepEqual(first.changed.get(recordKey('ind-a', 'w', '2026-12-05'))?.alertIds, ['a1', 'a2']);
  for (const [k, v] of first.changed) store.set(k, v);
  const replay = foldAlerts((k) => store.get(k), alerts, owned, 'w');
  assert.equal(replay.changed.size, 0);
  assert.equal(replay.alreadyCounted, 3);
});

test('a record needs a write until OpenCTI holds its values; a refused one never', () => {
  const r = foldAlert(undefined, alert(), 'ind', 'where').record;
  assert.equal(needsWrite(r, 'contoso'), true);
  const d = desired(r, 'contoso');
  assert.equal(d.count, 1);
  assert.equal(d.stixId, daySightingId('ind', 'where', '2026-12-05'));
  const written = { ...r, written: { id: 'x', count: d.count, firstSeen: d.firstSeen, lastSeen: d.lastSeen, description: d.description } };
  assert.equal(needsWrite(written, 'contoso'), false);
  assert.equal(needsWrite(written, 'renamed'), true);
  assert.equal(needsWrite({ ...r, refused: 'gone' }, 'contoso'), false);
});

test('records and the position survive encoding; garbage decodes to nothing', () => {
  const r = { ...foldAlert(undefined, alert(), 'ind', 'where').record, written: { id: 'x', count: 1, firstSeen: '2026-12-05T00:00:00.000Z', lastSeen: '2026-12-05T00:00:00.000Z', description: 'd' } };
  assert.deepEqual(decodeRecord(encodeRecord(r)), { ...r, refused: undefined });
  assert.equal(decodeRecord(Buffer.from('{"v":1}')), undefined);
  assert.equal(decodeRecord(Buffer.from('nope')), undefined);
  assert.equal(decodeRecord(null), undefined);
  const p = { lastUpdateTime: '2026-12-05T00:00:00.000Z', updatedAt: 'now' };
  assert.deepEqual(decodePosition(encodePosition(p)), p);
  assert.equal(decodePosition(Buffer.from('{"lastUpdateTime":"x"}')), undefined);
});

test('commits are sent in batches the broker accepts: at most the byte budget each, in order, a large record alone', () => {
  const rec = (key: string, bytes: number) => ({ topic: 't', key, value: bytes === 0 ? null : Buffer.alloc(bytes) });
  const chunks = chunkBySize([rec('a', 300), rec('b', 300), rec('c', 300), rec('d', 0), rec('e', 2000), rec('f', 10)], 700);
  assert.deepEqual(chunks.map((c) => c.map((r) => r.key)), [['a', 'b'], ['c', 'd'], ['e'], ['f']]);
  assert.deepEqual(chunkBySize([], 700), []);
});
