import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeCommand, MAX_COMMAND_BYTES, MarkingRegistry, normalizeEvent, type Command, type NormalizeResult, type StreamEvent } from '../src/index.ts';
import { event, indicator, MD5, NOW, observable, OCTI, SHA1, SHA256, TLP_AMBER_STRICT } from './fixtures.ts';

const run = (e: StreamEvent, registry = new MarkingRegistry()): NormalizeResult => normalizeEvent(e, NOW, registry);
const summary = (cmds: Command[]): string[] => cmds.map((c) => `${c.op} ${c.key}${c.op === 'retract' ? ` (${c.reason})` : ''}`);
const reasons = (r: NormalizeResult): string[] => r.rejects.map((x) => x.reason);

describe('normalizeEvent: create', () => {
  it('upserts an indicator value with the facts OpenCTI states', () => {
    const r = run(event('create', indicator("[ipv4-addr:value = '8.8.8.8']")));
    assert.deepEqual(r.rejects, []);
    assert.equal(r.commands.length, 1);
    const c = r.commands[0];
    assert.ok(c?.op === 'upsert');
    assert.equal(c.key, 'IpAddress:8.8.8.8');
    assert.deepEqual(c.source, {
      id: '5f0a0d55-3a52-4d4c-8c40-7e1c9b0c2a01',
      standardId: 'indicator--c1f1a9e4-3c58-5d1b-9f9c-9d0b0c1e8a11',
      entityType: 'Indicator',
      streamId: 'live-defender',
      eventId: '1767225600000-0',
      eventName: 'create',
    });
    assert.deepEqual(c.facts, {
      type: 'IpAddress',
      value: '8.8.8.8',
      name: 'C2 server',
      description: 'Cobalt Strike team server',
      score: 80,
      confidence: 85,
      labels: ['c2', 'cobalt-strike'],
      markings: ['TLP:AMBER'],
      tlp: 'TLP:AMBER',
      validFrom: '2026-01-10T08:00:00.000Z',
      validUntil: '2026-07-10T08:00:00.000Z',
      revoked: false,
      detection: true,
      createdBy: 'identity--7b82b010-b1c0-4dae-981f-7756374a17df',
      created: '2026-01-10T08:00:01.000Z',
      updated: '2026-02-01T09:30:01.000Z',
    });
  });

  it('upserts every value of an OR pattern and the strongest hash of one file', () => {
    const r = run(
      event(
        'create',
        indicator(
          `[file:hashes.MD5 = '${MD5}' AND file:hashes.'SHA-256' = '${SHA256.toUpperCase()}'] OR [url:value = 'hxxps://evil[.]example[.]com/Gate.php'] OR [domain-name:value = 'Evil.Example.com.']`,
        ),
      ),
    );
    assert.deepEqual(summary(r.commands), [`upsert FileSha256:${SHA256}`, 'upsert Url:https://evil.example.com/Gate.php', 'upsert DomainName:evil.example.com']);
    assert.deepEqual(r.rejects, []);
  });

  it('maps each observable type', () => {
    const cases: [Record<string, unknown>, string][] = [
      [observable('ipv4-addr', { value: '1.1.1.1' }, 'IPv4-Addr'), 'IpAddress:1.1.1.1'],
      [observable('ipv6-addr', { value: '2606:4700:4700::1111' }, 'IPv6-Addr'), 'IpAddress:2606:4700:4700:0:0:0:0:1111'],
      [observable('domain-name', { value: 'EVIL.example.org' }, 'Domain-Name'), 'DomainName:evil.example.org'],
      [observable('hostname', { value: 'c2.evil.example.org' }, 'Hostname'), 'DomainName:c2.evil.example.org'],
      [observable('url', { value: 'http://evil.example.org/a' }, 'Url'), 'Url:http://evil.example.org/a'],
      [observable('file', { name: 'a.exe', hashes: { MD5, 'SHA-1': SHA1 } }, 'StixFile'), `FileSha1:${SHA1}`],
      [observable('file', { hashes: { 'SHA-256': SHA256, MD5 } }, 'StixFile'), `FileSha256:${SHA256}`],
      [observable('x509-certificate', { hashes: { 'SHA-1': SHA1, 'SHA-256': SHA256 } }, 'X509-Certificate'), `CertificateThumbprint:${SHA1}`],
    ];
    for (const [stix, key] of cases) {
      const r = run(event('create', stix));
      assert.deepEqual(summary(r.commands), [`upsert ${key}`], key);
      assert.deepEqual(r.rejects, []);
    }
  });

  it('reads SCO facts from the SCO extension, and from the top level for custom SCOs', () => {
    const r = run(event('create', observable('ipv4-addr', { value: '9.9.9.9' }, 'IPv4-Addr')));
    const c = r.commands[0];
    assert.ok(c?.op === 'upsert');
    assert.equal(c.source.entityType, 'IPv4-Addr');
    assert.deepEqual({ ...c.facts }, {
      type: 'IpAddress',
      value: '9.9.9.9',
      name: null,
      description: 'seen in phishing',
      score: 65,
      confidence: null,
      labels: ['phishing'],
      markings: ['TLP:GREEN'],
      tlp: 'TLP:GREEN',
      validFrom: null,
      validUntil: null,
      revoked: false,
      detection: null,
      createdBy: 'identity--7b82b010-b1c0-4dae-981f-7756374a17df',
      created: '2026-01-05T10:00:00.000Z',
      updated: '2026-01-06T10:00:00.000Z',
    });
    const custom = { id: 'hostname--1', type: 'hostname', value: 'c2.evil.example.org', score: 90, description: 'custom', labels: ['x'] };
    const h = run(event('create', custom)).commands[0];
    assert.ok(h?.op === 'upsert');
    assert.equal(h.facts.score, 90);
    assert.equal(h.facts.description, 'custom');
    assert.equal(h.source.id, 'hostname--1'); // no OpenCTI extension: standard id stands in
  });

  it('rejects what Defender cannot represent, with precise reasons', () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [indicator("[ipv4-addr:value = '10.0.0.1']"), 'private_ip', /private range/],
      [indicator("[ipv4-addr:value = '8.8.8.0/24']"), 'cidr', /8.8.8.0\/24/],
      [indicator("[domain-name:value = 'co.uk']"), 'public_suffix', /co.uk/],
      [indicator("[domain-name:value MATCHES 'evil']"), 'unsupported_pattern', /operator MATCHES not supported/],
      [indicator("[ipv4-addr:value = '8.8.8.8'"), 'invalid_pattern', /at position 28/],
      [indicator('title: evil\ndetection: x', { pattern_type: 'sigma' }), 'unsupported_pattern', /pattern_type sigma not supported/],
      [indicator("[email-addr:value = 'a@evil.example.com']"), 'unsupported_type', /email-addr not supported/],
      [indicator(`[file:hashes.MD5 = '${SHA1}']`), 'invalid_value', /FileMd5 must be 32/],
      [observable('email-addr', { value: 'a@evil.example.com' }, 'Email-Addr'), 'unsupported_type', /email-addr not supported/],
      [observable('file', { name: 'x.exe', hashes: { 'SHA-512': 'ab' } }, 'StixFile'), 'unsupported_type', /without an MD5, SHA-1 or SHA-256/],
      [observable('x509-certificate', { hashes: { 'SHA-256': SHA256 } }, 'X509-Certificate'), 'unsupported_type', /SHA-1 thumbprint/],
      [observable('url', { value: 'evil.example.com/a' }, 'Url'), 'invalid_value', /no scheme/],
      [observable('domain-name', {}, 'Domain-Name'), 'malformed_event', /without a value/],
      [indicator('', { pattern: undefined }), 'malformed_event', /without a pattern/],
    ];
    for (const [stix, reason, detail] of cases) {
      const r = run(event('create', stix));
      assert.deepEqual(r.commands, [], reason);
      assert.deepEqual(reasons(r), [reason]);
      assert.match(r.rejects[0]?.detail ?? '', detail);
      assert.equal(r.rejects[0]?.stixId, stix.id);
    }
  });

  it('cross-checks observable_values: the pattern wins, extra values are reported', () => {
    const agree = indicator("[ipv4-addr:value = '8.8.8.8']", {}, { observable_values: [{ type: 'IPv4-Addr', value: '8.8.8.8' }] });
    assert.deepEqual(run(event('create', agree)).rejects, []);
    const disagree = indicator(`[ipv4-addr:value = '8.8.8.8']`, {}, {
      observable_values: [{ type: 'IPv4-Addr', value: '1.1.1.1' }, { type: 'StixFile', hashes: { 'SHA-256': SHA256 } }, { type: 'Email-Addr', value: 'a@b.example.com' }],
    });
    const r = run(event('create', disagree));
    assert.deepEqual(summary(r.commands), ['upsert IpAddress:8.8.8.8']);
    assert.deepEqual(r.rejects.map((x) => [x.reason, x.value]), [['observable_values_mismatch', '1.1.1.1'], ['observable_values_mismatch', SHA256]]);
  });

  it('retracts instead of upserting a revoked or expired indicator', () => {
    const p = "[ipv4-addr:value = '8.8.8.8']";
    assert.deepEqual(summary(run(event('create', indicator(p, { revoked: true }))).commands), ['retract IpAddress:8.8.8.8 (revoked)']);
    assert.deepEqual(summary(run(event('create', indicator(p, { valid_until: '2026-03-01T11:59:59.000Z' }))).commands), ['retract IpAddress:8.8.8.8 (expired)']);
    assert.deepEqual(summary(run(event('create', indicator(p, { valid_until: '2026-03-01T12:00:01.000Z' }))).commands), ['upsert IpAddress:8.8.8.8']);
  });

  // OpenCTI's addIndicator stores `x_opencti_detection ?? false` (pycti's create sends false too), so
  // most imported indicators say false: the flag is a fact for the writer's policy, never a retraction.
  it('carries detection as a fact: false, true, or null when OpenCTI says nothing', () => {
    const p = "[ipv4-addr:value = '8.8.8.8']";
    const detection = (r: NormalizeResult): (boolean | null)[] => r.commands.map((c) => (c.op === 'upsert' ? c.facts.detection : assert.fail(`${c.op} ${c.key}`)));
    assert.deepEqual(detection(run(event('create', indicator(p, {}, { detection: false })))), [false]);
    assert.deepEqual(detection(run(event('create', indicator(p, {}, { detection: true })))), [true]);
    assert.deepEqual(detection(run(event('create', indicator(p, { x_opencti_detection: false }, { detection: undefined })))), [false]);
    assert.deepEqual(detection(run(event('create', indicator(p, {}, { detection: undefined })))), [null]);
    assert.deepEqual(detection(run(event('create', observable('ipv4-addr', { value: '8.8.8.8' }, 'IPv4-Addr')))), [null]);
  });

  it('drops dates past year 9999 instead of producing a command the schema refuses', () => {
    const r = run(event('create', indicator("[ipv4-addr:value = '8.8.8.8']", { valid_until: '10000-01-01T00:00:00.000Z' })));
    assert.deepEqual(summary(r.commands), ['upsert IpAddress:8.8.8.8']);
    const [cmd] = r.commands;
    assert.ok(cmd?.op === 'upsert' && cmd.facts.validUntil === null);
    assert.doesNotThrow(() => encodeCommand(cmd));
  });

  it('ignores non-indicator, non-observable objects', () => {
    for (
      const stix of [
        { id: 'relationship--1', type: 'relationship', relationship_type: 'based-on', source_ref: 'indicator--1', target_ref: 'ipv4-addr--1' },
        { id: 'identity--1', type: 'identity', name: 'ACME CERT', identity_class: 'organization' },
        { id: 'report--1', type: 'report', name: 'APT report', object_refs: [] },
        { id: 'malware--1', type: 'malware', name: 'Emotet', is_family: true },
      ]
    ) {
      assert.deepEqual(run(event('create', stix)), { commands: [], rejects: [] });
    }
  });

  it('learns marking definitions and uses them on later events', () => {
    const registry = new MarkingRegistry();
    const marking = { id: 'marking-definition--0d4f2f6b-2b2a-5a4c-9a8e-2f7a6b9b1c01', type: 'marking-definition', name: 'PAP:AMBER', definition_type: 'PAP', definition: { pap: 'amber' } };
    assert.deepEqual(run(event('create', marking), registry), { commands: [], rejects: [] });
    const r = run(event('create', indicator("[ipv4-addr:value = '8.8.8.8']", { object_marking_refs: [marking.id, TLP_AMBER_STRICT] })), registry);
    const c = r.commands[0];
    assert.ok(c?.op === 'upsert');
    assert.deepEqual(c.facts.markings, ['PAP:AMBER', 'TLP:AMBER+STRICT']);
    assert.equal(c.facts.tlp, 'TLP:AMBER+STRICT');
  });
});

describe('normalizeEvent: update', () => {
  const path = (p: string) => `/extensions/${OCTI}/${p}`;

  it('retracts the key a pattern change removed and upserts the new one', () => {
    const current = indicator("[ipv4-addr:value = '1.1.1.1']");
    const r = run(event('update', current, 'update', {
      patch: [{ op: 'replace', path: '/pattern', value: "[ipv4-addr:value = '1.1.1.1']" }],
      reverse_patch: [{ op: 'replace', path: '/pattern', value: "[ipv4-addr:value = '8.8.8.8']" }],
    }));
    assert.deepEqual(summary(r.commands), ['upsert IpAddress:1.1.1.1', 'retract IpAddress:8.8.8.8 (value_changed)']);
    assert.equal(r.commands[1]?.source.eventName, 'update');
    assert.deepEqual(r.rejects, []);
  });

  it('re-upserts on a score change without touching the previous state', () => {
    const current = indicator("[ipv4-addr:value = '8.8.8.8']", {}, { score: 95 });
    const r = run(event('update', current, 'update', {
      patch: [{ op: 'replace', path: path('score'), value: 95 }],
      reverse_patch: [{ op: 'replace', path: path('score'), value: 80 }],
    }));
    assert.deepEqual(summary(r.commands), ['upsert IpAddress:8.8.8.8']);
    const c = r.commands[0];
    assert.ok(c?.op === 'upsert' && c.facts.score === 95);
  });

  it('retracts an observable value change and a hash change', () => {
    const r = run(event('update', observable('domain-name', { value: 'new.evil.example.com' }, 'Domain-Name'), 'update', {
      reverse_patch: [{ op: 'replace', path: '/value', value: 'old.evil.example.com' }],
    }));
    assert.deepEqual(summary(r.commands), ['upsert DomainName:new.evil.example.com', 'retract DomainName:old.evil.example.com (value_changed)']);
    const f = run(event('update', observable('file', { hashes: { MD5, 'SHA-256': SHA256 } }, 'StixFile'), 'update', {
      reverse_patch: [{ op: 'remove', path: '/hashes/SHA-256' }],
    }));
    assert.deepEqual(summary(f.commands), [`upsert FileSha256:${SHA256}`, `retract FileMd5:${MD5} (value_changed)`]);
  });

  it('upserts with detection false when an update turns detection off (the writer decides)', () => {
    const off = indicator("[ipv4-addr:value = '8.8.8.8']", {}, { detection: false });
    const r = run(event('update', off, 'update', { reverse_patch: [{ op: 'replace', path: path('detection'), value: true }] }));
    assert.deepEqual(summary(r.commands), ['upsert IpAddress:8.8.8.8']);
    assert.equal(r.commands[0]?.op === 'upsert' && r.commands[0].facts.detection, false);
  });

  it('retracts every key when the update revokes or expires', () => {
    const revoked = indicator("[ipv4-addr:value = '8.8.8.8'] OR [ipv4-addr:value = '1.1.1.1']", { revoked: true });
    assert.deepEqual(summary(run(event('update', revoked, 'update', { reverse_patch: [{ op: 'replace', path: '/revoked', value: false }] })).commands), [
      'retract IpAddress:8.8.8.8 (revoked)',
      'retract IpAddress:1.1.1.1 (revoked)',
    ]);
    const expired = indicator("[ipv4-addr:value = '9.9.9.9']", { valid_until: '2026-02-01T00:00:00.000Z' });
    assert.deepEqual(
      summary(
        run(event('update', expired, 'update', {
          reverse_patch: [{ op: 'replace', path: '/pattern', value: "[ipv4-addr:value = '8.8.8.8']" }, { op: 'replace', path: '/valid_until', value: '2027-01-01T00:00:00.000Z' }],
        })).commands,
      ),
      ['retract IpAddress:9.9.9.9 (expired)', 'retract IpAddress:8.8.8.8 (expired)'],
    );
  });

  it('reports an update whose reverse_patch is missing or does not apply, and still upserts', () => {
    const current = indicator("[ipv4-addr:value = '8.8.8.8']");
    const missing = run(event('update', current, 'update', {}));
    assert.deepEqual(summary(missing.commands), ['upsert IpAddress:8.8.8.8']);
    assert.deepEqual(reasons(missing), ['malformed_event']);
    const broken = run(event('update', current, 'update', { reverse_patch: [{ op: 'test', path: '/pattern', value: 'not the current pattern' }] }));
    assert.deepEqual(summary(broken.commands), ['upsert IpAddress:8.8.8.8']);
    assert.match(broken.rejects[0]?.detail ?? '', /reverse_patch could not be applied/);
  });

  it('does not mutate the event payload', () => {
    const current = indicator("[ipv4-addr:value = '1.1.1.1']");
    const e = event('update', current, 'update', { reverse_patch: [{ op: 'replace', path: '/pattern', value: "[ipv4-addr:value = '8.8.8.8']" }] });
    const before = JSON.stringify(e);
    run(e);
    assert.equal(JSON.stringify(e), before);
  });

  it('treats an update sent as SSE create (entered the filter) as a create', () => {
    const r = run(event('create', indicator("[ipv4-addr:value = '8.8.8.8']"), 'update', { reverse_patch: [{ op: 'add', path: '/labels/-', value: 'x' }] }));
    assert.deepEqual(summary(r.commands), ['upsert IpAddress:8.8.8.8']);
  });
});

describe('normalizeEvent: delete', () => {
  it('retracts every key of a deleted entity, without reporting unrepresentable values again', () => {
    const r = run(event('delete', indicator("[ipv4-addr:value = '8.8.8.8'] OR [ipv4-addr:value = '10.0.0.1'] OR [domain-name:value = 'evil.example.com']")));
    assert.deepEqual(summary(r.commands), ['retract IpAddress:8.8.8.8 (deleted)', 'retract DomainName:evil.example.com (deleted)']);
    assert.deepEqual(r.rejects, []);
    assert.equal(r.commands[0]?.source.eventName, 'delete');
  });

  it('retracts current and previous keys when the entity left the filter (payload type update)', () => {
    const current = indicator("[ipv4-addr:value = '1.1.1.1']", { labels: [] });
    const r = run(event('delete', current, 'update', {
      reverse_patch: [{ op: 'replace', path: '/pattern', value: "[ipv4-addr:value = '8.8.8.8']" }, { op: 'add', path: '/labels/0', value: 'defender' }],
    }));
    assert.deepEqual(summary(r.commands), ['retract IpAddress:1.1.1.1 (left_filter)', 'retract IpAddress:8.8.8.8 (left_filter)']);
  });

  it('retracts observables and revoked entities alike', () => {
    assert.deepEqual(summary(run(event('delete', observable('url', { value: 'https://evil.example.com/x' }, 'Url'))).commands), ['retract Url:https://evil.example.com/x (deleted)']);
    assert.deepEqual(summary(run(event('delete', indicator("[ipv4-addr:value = '8.8.8.8']", { revoked: true }))).commands), ['retract IpAddress:8.8.8.8 (deleted)']);
  });

  it('does nothing for deleted relationships or markings', () => {
    assert.deepEqual(run(event('delete', { id: 'relationship--1', type: 'relationship' })), { commands: [], rejects: [] });
    assert.deepEqual(run(event('delete', { id: 'marking-definition--1', type: 'marking-definition', name: 'X' })), { commands: [], rejects: [] });
  });
});

describe('normalizeEvent: merge', () => {
  it('upserts the target and retracts every key of each absorbed source under its own id', () => {
    const target = indicator("[ipv4-addr:value = '8.8.8.8']");
    const absorbed1 = indicator("[ipv4-addr:value = '8.8.8.8'] OR [ipv4-addr:value = '1.1.1.1']", { id: 'indicator--aaaaaaaa-0000-5000-8000-000000000001' }, {
      id: 'b0000000-0000-4000-8000-000000000001',
    });
    const absorbed2 = indicator("[domain-name:value = 'evil.example.com']", { id: 'indicator--aaaaaaaa-0000-5000-8000-000000000002' }, { id: 'b0000000-0000-4000-8000-000000000002' });
    const r = run(event('merge', target, 'merge', { patch: [], reverse_patch: [], sources: [absorbed1, absorbed2] }));
    assert.deepEqual(summary(r.commands), [
      'upsert IpAddress:8.8.8.8',
      'retract IpAddress:8.8.8.8 (merged)',
      'retract IpAddress:1.1.1.1 (merged)',
      'retract DomainName:evil.example.com (merged)',
    ]);
    assert.deepEqual(r.commands.map((c) => c.source.id), [
      '5f0a0d55-3a52-4d4c-8c40-7e1c9b0c2a01',
      'b0000000-0000-4000-8000-000000000001',
      'b0000000-0000-4000-8000-000000000001',
      'b0000000-0000-4000-8000-000000000002',
    ]);
    assert.ok(r.commands.every((c) => c.source.eventName === 'merge'));
  });

  it('reports a merge without sources', () => {
    const r = run(event('merge', indicator("[ipv4-addr:value = '8.8.8.8']"), 'merge', { patch: [] }));
    assert.deepEqual(summary(r.commands), ['upsert IpAddress:8.8.8.8']);
    assert.deepEqual(reasons(r), ['malformed_event']);
  });
});

describe('normalizeEvent: malformed events', () => {
  const cases: [string, unknown][] = [
    ['null data', null],
    ['a string', 'not an object'],
    ['no STIX object', { version: '4', type: 'create' }],
    ['an old version', { version: '3', type: 'create', data: { id: 'indicator--1', type: 'indicator' } }],
    ['no version', { type: 'create', data: { id: 'indicator--1', type: 'indicator' } }],
    ['a version that is not a number', { version: 'four', type: 'create', data: { id: 'indicator--1', type: 'indicator' } }],
    ['a STIX object without id', { version: '4', type: 'create', data: { type: 'indicator', pattern: "[ipv4-addr:value = '8.8.8.8']" } }],
  ];
  for (const [what, data] of cases) {
    it(`rejects ${what}`, () => {
      const r = run({ streamId: 's', id: '1-0', name: 'create', data });
      assert.deepEqual(r.commands, []);
      assert.deepEqual(reasons(r), ['malformed_event']);
    });
  }

  // OpenCTI accepts `parseInt(version) >= 4` (MIN_LIVE_STREAM_EVENT_VERSION): a newer version keeps the
  // fields normalization reads, which are validated one by one.
  it('normalizes events of a version above 4', () => {
    for (const version of ['5', 5, '4', '12']) {
      const e = event('create', indicator("[ipv4-addr:value = '8.8.8.8']"));
      const r = run({ ...e, data: { ...(e.data as Record<string, unknown>), version } });
      assert.deepEqual(summary(r.commands), ['upsert IpAddress:8.8.8.8'], String(version));
      assert.deepEqual(r.rejects, []);
    }
  });

  it('rejects an SSE event name that carries no entity', () => {
    const r = run({ streamId: 's', id: '1-0', name: 'heartbeat' as 'create', data: { version: '4', type: 'create', data: indicator("[ipv4-addr:value = '8.8.8.8']") } });
    assert.deepEqual(reasons(r), ['malformed_event']);
  });

  it('produces commands the command schema accepts', async () => {
    const { encodeCommand } = await import('../src/index.ts');
    const r = run(event('merge', indicator("[ipv4-addr:value = '8.8.8.8']"), 'merge', { sources: [indicator("[ipv4-addr:value = '1.1.1.1']")] }));
    for (const c of r.commands) encodeCommand(c);
  });
});

describe('normalizeEvent: very large patterns', () => {
  const ip = (i: number): string => `11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const ored = (from: number, n: number): string => `[${Array.from({ length: n }, (_, i) => `ipv4-addr:value = '${ip(from + i)}'`).join(' OR ')}]`;

  it('an indicator of 50,000 ORed values upserts each; an update to another range retracts exactly the values it removed', () => {
    const created = run(event('create', indicator(ored(0, 50_000))));
    assert.equal(created.commands.length, 50_000);
    assert.ok(created.commands.every((c) => c.op === 'upsert'));
    assert.equal(new Set(created.commands.map((c) => c.key)).size, 50_000);
    const updated = run(event('update', indicator(ored(25_000, 50_000)), 'update', { reverse_patch: [{ op: 'replace', path: '/pattern', value: ored(0, 50_000) }] }));
    const retracted = updated.commands.filter((c) => c.op === 'retract');
    assert.equal(updated.commands.length - retracted.length, 50_000);
    assert.equal(retracted.length, 25_000);
    assert.deepEqual([retracted[0]?.key, retracted.at(-1)?.key], [`IpAddress:${ip(0)}`, `IpAddress:${ip(24_999)}`]);
    assert.ok(retracted.every((c) => c.op === 'retract' && c.reason === 'value_changed'));
  });

  it('a delete of an indicator nested 100,000 parentheses deep retracts its value', () => {
    const deep = `${'('.repeat(100_000)}[ipv4-addr:value = '8.8.8.8']${')'.repeat(100_000)}`;
    assert.deepEqual(summary(run(event('delete', indicator(deep))).commands), ['retract IpAddress:8.8.8.8 (deleted)']);
  });
});

describe('normalizeEvent: rejects of very large patterns stay small', () => {
  it('one reject per distinct problem, with its count; the pattern in `value` cut at 1,024 characters', () => {
    const n = 50_000;
    const src = Array.from({ length: n }, (_, i) => `[email-addr:value = 'a${i}@example.com']`).join(' OR ');
    const r = run(event('create', indicator(`${src} OR [ipv4-addr:value = '8.8.8.8']`)));
    assert.deepEqual(summary(r.commands), ['upsert IpAddress:8.8.8.8']);
    assert.equal(r.rejects.length, 1); // before deepEqual: its diff of 50,000 entries would take minutes
    assert.deepEqual(r.rejects.map((x) => [x.reason, x.detail]), [['unsupported_type', `email-addr not supported (${n} times)`]]);
    assert.equal(r.rejects[0]?.value?.length, 1024);
    assert.ok(r.rejects[0]?.value?.endsWith('…'));
  });

  it('a syntax error quotes at most 64 characters of what it found', () => {
    const big = 'x'.repeat(100_000);
    const r = run(event('create', indicator(`[ipv4-addr:value = '8.8.8.8'] '${big}'`)));
    assert.deepEqual(reasons(r), ['invalid_pattern']);
    assert.ok((r.rejects[0]?.detail.length ?? Infinity) < 200, r.rejects[0]?.detail.slice(0, 300));
    assert.equal(r.rejects[0]?.value?.length, 1024);
  });
});

describe('normalizeEvent: text facts are bounded so that any entity fits one command', () => {
  it('a multi-MiB description, a long name and thousands of labels still give a command within MAX_COMMAND_BYTES', () => {
    // OpenCTI has no size cap on these fields; a command over the limit would be dead-lettered and the
    // value never reach Defender (the writer uses at most DEFENDER_TITLE/DESCRIPTION_MAX_LENGTH ≤ 4,000).
    const description = `${'x'.repeat(3999)}😀${'y'.repeat(5 * 2 ** 20)}`;
    const labels = Array.from({ length: 5000 }, (_, i) => `label-${i}-${'z'.repeat(300)}`);
    const r = run(event('create', indicator("[ipv4-addr:value = '8.8.8.8']", { description, name: 'n'.repeat(10_000), labels })));
    assert.deepEqual(r.rejects, []);
    const c = r.commands[0];
    assert.ok(c?.op === 'upsert');
    assert.ok(encodeCommand(c).byteLength < MAX_COMMAND_BYTES);
    assert.equal(c.facts.description, 'x'.repeat(3999), 'cut before a surrogate pair, never inside it');
    assert.equal(c.facts.name?.length, 4000);
    assert.equal(c.facts.labels.length, 100);
    assert.equal(c.facts.labels[0]?.length, 256);
  });
});
