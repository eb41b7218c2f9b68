import assert from 'node:assert/strict';
import { test } from 'node:test';
import { INDICATOR_KINDS, OBSERVABLE_KINDS, OCTI_EXT, randomScript, SCO_EXT, scoId, StixGenerator, TLP_MARKINGS, startOpenCtiEmulator } from '../src/index.ts';
import { isReservedIp } from '../src/index.ts';

const EPOCH = Date.UTC(2025, 5, 1);
const tlpIds = new Set<string>(Object.values(TLP_MARKINGS));
type Ext = Record<string, unknown>;
const octi = (o: Record<string, unknown>): Ext => (o.extensions as Record<string, Ext>)[OCTI_EXT]!;

test('the generator is deterministic for a seed and epoch', () => {
  const a = new StixGenerator({ seed: 42, epochMs: EPOCH });
  const b = new StixGenerator({ seed: 42, epochMs: EPOCH });
  const c = new StixGenerator({ seed: 43, epochMs: EPOCH });
  const script = (g: StixGenerator) => JSON.stringify(randomScript(g, 50));
  assert.equal(script(a), script(b));
  assert.notEqual(script(a), script(new StixGenerator({ seed: 43, epochMs: EPOCH })));
  assert.notEqual(JSON.stringify(c.indicator('ipv4')), JSON.stringify(new StixGenerator({ seed: 42, epochMs: EPOCH }).indicator('ipv4')));
});

test('indicators of every kind carry the OpenCTI extension, a standard id, TLP markings and observable_values', () => {
  const g = new StixGenerator({ seed: 5, epochMs: EPOCH });
  const patterns: Record<string, RegExp> = {
    ipv4: /^\[ipv4-addr:value = '\d+\.\d+\.\d+\.\d+'\]$/,
    ipv6: /^\[ipv6-addr:value = '[0-9a-f:]+'\]$/,
    domain: /^\[domain-name:value = '[a-z0-9.-]+'\]$/,
    hostname: /^\[hostname:value = '[a-z0-9.-]+'\]$/,
    url: /^\[url:value = 'https?:\/\/[^']+'\]$/,
    md5: /^\[file:hashes\.MD5 = '[0-9a-f]{32}'\]$/,
    sha1: /^\[file:hashes\.'SHA-1' = '[0-9a-f]{40}'\]$/,
    sha256: /^\[file:hashes\.'SHA-256' = '[0-9a-f]{64}'\]$/,
    'x509-sha1': /^\[x509-certificate:hashes\.'SHA-1' = '[0-9a-f]{40}'\]$/,
    'x509-sha256': /^\[x509-certificate:hashes\.'SHA-256' = '[0-9a-f]{64}'\]$/,
    cidr: /\/24'\]$/,
    'private-ip': /^\[ipv4-addr:value = '(10|192\.168|172)\./,
    matches: / MATCHES '/,
    email: /^\[email-addr:value = '[^@]+@/,
    and: / AND file:size = \d+\]$/,
    or: / OR domain-name:value = /,
    followedby: /\] FOLLOWEDBY \[/,
  };
  for (const kind of INDICATOR_KINDS) {
    const ind = g.indicator(kind);
    assert.match(ind.pattern as string, patterns[kind]!, kind);
    assert.match(ind.id, /^indicator--[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(ind.pattern_type, 'stix');
    assert.ok((ind.object_marking_refs as string[]).every((m) => tlpIds.has(m)));
    const ext = octi(ind);
    assert.equal(ext.type, 'Indicator');
    assert.equal(ext.detection, true);
    assert.equal(typeof ext.score, 'number');
    assert.ok(typeof ext.created_at === 'string' && typeof ext.updated_at === 'string');
    assert.ok(Date.parse(ind.valid_until as string) > Date.parse(ind.valid_from as string));
    assert.equal(ind.revoked, false);
    const values = ext.observable_values as { type: string; value?: string; hashes?: Record<string, string> }[];
    if (kind === 'matches') assert.deepEqual(values, []);
    else assert.ok(values.length >= 1, kind);
    if (kind === 'ipv4' || kind === 'ipv6') assert.equal(isReservedIp(values[0]!.value!), false, values[0]!.value);
    if (kind === 'private-ip') assert.equal(isReservedIp(values[0]!.value!), true);
  }
});

test('observables: SCO extension with score, standard ids from the value, custom hostname fields at top level', () => {
  const g = new StixGenerator({ seed: 9, epochMs: EPOCH });
  for (const kind of OBSERVABLE_KINDS) {
    const o = g.observable(kind);
    assert.ok(tlpIds.has((o.object_marking_refs as string[])[0]!));
    const expectedId = 'hashes' in o ? scoId(o.type, { hashes: o.hashes }) : scoId(o.type, { value: o.value });
    assert.equal(o.id, expectedId);
    if (kind === 'hostname') {
      assert.equal(typeof o.score, 'number');
      assert.equal(octi(o).type, 'Hostname');
    } else {
      assert.equal(typeof (o.extensions as Record<string, Ext>)[SCO_EXT]!.score, 'number');
    }
  }
  const file = g.observable('file');
  assert.deepEqual(Object.keys(file.hashes as object), ['MD5', 'SHA-1', 'SHA-256']);
  assert.equal(octi(g.observable('x509')).type, 'X509-Certificate');
  // Computed independently with Python's uuid.uuid5(OASIS namespace, '{"value":"198.51.100.3"}').
  assert.equal(scoId('ipv4-addr', { value: '198.51.100.3' }), 'ipv4-addr--28bb3599-77cd-5a82-a950-b5bc3caf07c4');
});

test('a random script applies cleanly to the emulator and mixes every operation', async () => {
  const emulator = await startOpenCtiEmulator({ token: 't', streams: [{ id: 's' }], seed: 11 });
  try {
    const events = emulator.generate(300);
    const kinds = new Set(events.map((e) => e.event));
    assert.deepEqual([...kinds].sort(), ['create', 'delete', 'merge', 'update']);
  } finally {
    await emulator.close();
  }
});
