import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DAY_MS,
  Safelist,
  configuredActionFor,
  descriptionFor,
  eligibility,
  expirationDaysFor,
  generateAlertFor,
  isReservedIp,
  normalizeTlp,
  renderIndicator,
  resolveAction,
  severityFor,
  titleFor,
  truncate,
} from '../src/core/policy.ts';
import { DOCUMENTED_BODY_FIELDS } from '@octi-defender/emulators';
import { NOW, facts, policy } from './helpers.ts';

describe('score → action (the stream connector default: 60 Block, 30 Audit, 1 Warn, 0 Audit)', () => {
  const p = policy();
  for (
    const [score, action] of [
      [100, 'Block'],
      [60, 'Block'],
      [59, 'Audit'],
      [31, 'Audit'],
      [30, 'Audit'],
      [29, 'Warn'],
      [1, 'Warn'],
      [0, 'Audit'],
    ] as const
  ) {
    test(`${score} → ${action}`, () => assert.equal(configuredActionFor(score, p), action));
  }
  test('a fixed action wins over the score', () => assert.equal(configuredActionFor(95, policy({ fixedAction: 'Warn' })), 'Warn'));
});

describe('severity from score', () => {
  for (
    const [score, sev] of [
      [100, 'High'],
      [60, 'High'],
      [59, 'Medium'],
      [40, 'Medium'],
      [39, 'Low'],
      [20, 'Low'],
      [19, 'Informational'],
      [0, 'Informational'],
    ] as const
  ) {
    test(`${score} → ${sev}`, () => assert.equal(severityFor(score), sev));
  }
});

describe('per-type actions', () => {
  const cases = [
    ['IpAddress', 'BlockAndRemediate', 'Block'],
    ['DomainName', 'AlertAndBlock', 'Block'],
    ['Url', 'Alert', 'Audit'],
    ['Url', 'Warn', 'Warn'],
    ['FileSha256', 'AlertAndBlock', 'BlockAndRemediate'],
    ['FileSha256', 'Block', 'Block'],
    ['FileMd5', 'BlockAndRemediate', 'BlockAndRemediate'],
    ['FileSha1', 'Warn', 'Warn'],
    ['CertificateThumbprint', 'Block', 'BlockAndRemediate'],
    ['CertificateThumbprint', 'Allowed', 'Allowed'],
    ['CertificateThumbprint', 'Audit', undefined],
    ['CertificateThumbprint', 'Warn', undefined],
    ['CertificateThumbprint', 'Alert', undefined],
    ['IpAddress', 'Allowed', 'Allowed'],
  ] as const;
  for (const [type, configured, expected] of cases) {
    test(`${configured} on ${type} → ${expected ?? 'not sent'}`, () => assert.equal(resolveAction(type, configured), expected));
  }
});

describe('generateAlert', () => {
  test('forced for Audit even when disabled', () => assert.equal(generateAlertFor('Audit', 'Audit', { generateAlert: false }), true));
  test('forced for the deprecated Alert', () => assert.equal(generateAlertFor('Audit', 'Alert', { generateAlert: false }), true));
  test('forced for AlertAndBlock', () => assert.equal(generateAlertFor('Block', 'AlertAndBlock', { generateAlert: false }), true));
  test('never for Allowed', () => assert.equal(generateAlertFor('Allowed', 'Allowed', { generateAlert: true }), false));
  test('configured otherwise', () => {
    assert.equal(generateAlertFor('Block', 'Block', { generateAlert: false }), false);
    assert.equal(generateAlertFor('Warn', 'Warn', { generateAlert: true }), true);
  });
});

describe('TLP names', () => {
  test('normalizes case, spaces and WHITE', () => {
    assert.equal(normalizeTlp(' tlp:amber+strict '), 'TLP:AMBER+STRICT');
    assert.equal(normalizeTlp('TLP:WHITE'), 'TLP:CLEAR');
    assert.equal(normalizeTlp('tlp: red'), 'TLP:RED');
  });
});

describe('eligibility', () => {
  const p = policy({ minScore: 20, expireDaysByType: { FileSha256: 90 }, tlpExpireDays: { 'TLP:CLEAR': 7, 'TLP:GREEN': 14 } });
  const at = NOW - 3600_000;
  const nextMidnight = Math.ceil(at / DAY_MS) * DAY_MS;
  test('TLP:RED is never sent', () => assert.deepEqual(eligibility(facts({ markings: ['TLP:RED'] }), at, p, NOW), { ok: false, reason: 'tlp-never' }));
  test('revoked', () => assert.deepEqual(eligibility(facts({ revoked: true }), at, p, NOW), { ok: false, reason: 'revoked' }));
  // OpenCTI stores detection=false unless someone sets it; the official Defender connector ignores it.
  test('detection is ignored by default (as OpenCTI’s Defender connector)', () => {
    for (const detection of [false, true, null]) assert.equal(eligibility(facts({ detection }), at, p, NOW).ok, true, String(detection));
  });
  test('DEFENDER_REQUIRE_DETECTION: detection=false is not sent; true and null (observables have no flag) are', () => {
    const strict = { ...p, requireDetection: true };
    assert.deepEqual(eligibility(facts({ detection: false }), at, strict, NOW), { ok: false, reason: 'detection-off' });
    assert.equal(eligibility(facts({ detection: true }), at, strict, NOW).ok, true);
    assert.equal(eligibility(facts({ detection: null }), at, strict, NOW).ok, true);
  });
  test('below the minimum score; a missing score counts as 0', () => {
    assert.deepEqual(eligibility(facts({ score: 19 }), at, p, NOW), { ok: false, reason: 'below-min-score' });
    assert.deepEqual(eligibility(facts({ score: null }), at, p, NOW), { ok: false, reason: 'below-min-score' });
    assert.equal(eligibility(facts({ score: 20 }), at, p, NOW).ok, true);
  });
  test('expiration: next UTC midnight after the event + the default days', () => {
    assert.deepEqual(eligibility(facts(), at, p, NOW), { ok: true, expiresAt: nextMidnight + 30 * DAY_MS });
  });
  test('same day, same expiration (no hash churn)', () => {
    const a = eligibility(facts(), nextMidnight - DAY_MS + 1, p, NOW);
    const b = eligibility(facts(), nextMidnight - 1, p, NOW);
    assert.deepEqual(a, b);
  });
  test('per-type days', () => {
    assert.deepEqual(eligibility(facts({ type: 'FileSha256', value: 'a'.repeat(64) }), at, p, NOW), { ok: true, expiresAt: nextMidnight + 90 * DAY_MS });
  });
  test('a TLP rule replaces the type days; the shortest matching marking wins', () => {
    assert.equal(expirationDaysFor(facts({ type: 'FileSha256', markings: ['TLP:CLEAR'] }), p), 7);
    assert.equal(expirationDaysFor(facts({ markings: ['TLP:GREEN', 'tlp:white'] }), p), 7);
    assert.equal(expirationDaysFor(facts({ markings: ['PAP:GREEN'] }), p), 30);
  });
  test('valid_until caps the expiration', () => {
    const until = new Date(NOW + 2 * DAY_MS).toISOString();
    assert.deepEqual(eligibility(facts({ validUntil: until }), at, p, NOW), { ok: true, expiresAt: NOW + 2 * DAY_MS });
  });
  test('an already passed valid_until is expired', () => {
    assert.deepEqual(eligibility(facts({ validUntil: new Date(NOW - 1).toISOString() }), at, p, NOW), { ok: false, reason: 'expired' });
  });
  test('an old event is expired', () => assert.deepEqual(eligibility(facts(), NOW - 40 * DAY_MS, p, NOW), { ok: false, reason: 'expired' }));
});

describe('safelist', () => {
  const s = new Safelist(['Example.COM.', '*.corp.test', '198.51.100.10', '192.0.2.0/24', '2001:db8::/32']);
  test('domains and their subdomains', () => {
    assert.equal(s.matches('DomainName', 'example.com'), true);
    assert.equal(s.matches('DomainName', 'a.b.example.com'), true);
    assert.equal(s.matches('DomainName', 'badexample.com'), false);
    assert.equal(s.matches('DomainName', 'x.corp.test'), true);
    assert.equal(s.matches('DomainName', 'example.org'), false);
  });
  test('IPs and CIDRs, v4 and v6', () => {
    assert.equal(s.matches('IpAddress', '198.51.100.10'), true);
    assert.equal(s.matches('IpAddress', '198.51.100.11'), false);
    assert.equal(s.matches('IpAddress', '192.0.2.200'), true);
    assert.equal(s.matches('IpAddress', '2001:db8:0:0:0:0:0:1'), true);
  });
  test('URLs whose host is listed', () => {
    assert.equal(s.matches('Url', 'https://login.example.com/path?q=1'), true);
    assert.equal(s.matches('Url', 'http://192.0.2.5/x'), true);
    assert.equal(s.matches('Url', 'http://[2001:db8::5]/x'), true);
    assert.equal(s.matches('Url', 'https://evil.test/example.com'), false);
    assert.equal(s.matches('Url', 'not a url'), false);
  });
  test('hashes are never safelisted', () => assert.equal(s.matches('FileSha1', 'example.com'), false));
  test('bad entries are refused', () => {
    assert.throws(() => new Safelist(['exa mple.com']), /not a domain, IP or CIDR/);
    assert.throws(() => new Safelist(['10.0.0.0/33']), /prefix/);
  });
});

describe('reserved addresses', () => {
  for (const ip of ['10.1.2.3', '127.0.0.1', '169.254.1.1', '172.16.0.1', '192.168.1.1', '100.64.0.1', '224.0.0.1', '255.255.255.255', '::1', 'fe80::1', 'fd00::1']) {
    test(`${ip} is reserved`, () => assert.equal(isReservedIp(ip), true));
  }
  for (const ip of ['8.8.8.8', '203.0.113.7', '2001:4860:4860:0:0:0:0:8888']) {
    test(`${ip} is not`, () => assert.equal(isReservedIp(ip), false));
  }
});

describe('titles and descriptions', () => {
  test('truncate keeps short text and cuts long text at a word with …', () => {
    assert.equal(truncate('short', 10), 'short');
    assert.equal(truncate('alpha beta gamma delta', 16), 'alpha beta…');
    assert.equal(truncate('x'.repeat(30), 10), `${'x'.repeat(9)}…`);
    assert.equal(truncate('alpha beta gamma delta', 16).length <= 16, true);
  });
  test('never splits a surrogate pair', () => {
    const t = truncate(`${'a'.repeat(8)}😀😀`, 10);
    assert.equal(t, `${'a'.repeat(8)}…`);
  });
  test('title from the name, else the value; one line', () => {
    assert.equal(titleFor({ name: ' Emotet\nC2 ', value: '203.0.113.7' }, 250), 'Emotet C2');
    assert.equal(titleFor({ name: null, value: '203.0.113.7' }, 250), '203.0.113.7');
    assert.equal(titleFor({ name: '  ', value: 'v' }, 250), 'v');
    // Every kind of change, alone in an otherwise clean line, and clean lines left as they are.
    for (
      const [name, title] of [
        ['Emotet C2', 'Emotet C2'],
        ['Emotet  C2', 'Emotet C2'],
        [' Emotet C2', 'Emotet C2'],
        ['Emotet C2 ', 'Emotet C2'],
        ['Emotet\tC2', 'Emotet C2'],
        ['Emotet\u00a0C2', 'Emotet C2'],
        ['Emotet\u2028C2', 'Emotet C2'],
        ['Emotet\u0007C2', 'Emotet C2'],
        ['Emotet\u007fC2', 'Emotet C2'],
        ['Emotet\ufeff', 'Emotet'],
        ['Émotet — C2 😀', 'Émotet — C2 😀'],
        ['x', 'x'],
      ] as const
    ) {
      assert.equal(titleFor({ name, value: 'v' }, 250), title, JSON.stringify(name));
    }
  });
  test('description default and truncation', () => {
    assert.equal(descriptionFor({ description: null }, 99), 'Imported from OpenCTI');
    assert.equal(descriptionFor({ description: 'word '.repeat(50) }, 99).length <= 99, true);
  });
});

describe('renderIndicator', () => {
  const opts = { expiresAt: Date.parse('2026-04-10T00:00:00Z'), externalId: 'src-1' };
  test('a high score IP: Block, High, every field', () => {
    const r = renderIndicator(facts({ score: 80, name: 'C2', description: 'bad' }), opts, policy({ rbacGroupNames: ['SOC'], recommendedActions: 'Isolate' }));
    assert.deepEqual(r, {
      ok: true,
      indicator: {
        indicatorValue: '203.0.113.7',
        indicatorType: 'IpAddress',
        action: 'Block',
        title: 'C2',
        description: 'bad',
        application: 'OpenCTI Defender Sync',
        severity: 'High',
        generateAlert: true,
        expirationTime: '2026-04-10T00:00:00Z',
        externalID: 'src-1',
        recommendedActions: 'Isolate',
        rbacGroupNames: ['SOC'],
      },
    });
  });
  test('every field is named exactly as Defender documents it (body parameter names are case-sensitive)', () => {
    const r = renderIndicator(
      facts({ type: 'Url', value: 'https://evil.test/a', score: 80, name: 'n', description: 'd' }),
      opts,
      policy({ rbacGroupNames: ['SOC'], recommendedActions: 'Isolate', educateUrl: 'https://intranet.test/blocked' }),
    );
    assert.ok(r.ok);
    const names = Object.keys(r.indicator);
    assert.equal(names.length, 13, 'every optional field is rendered in this case');
    for (const name of names) assert.ok((DOCUMENTED_BODY_FIELDS as readonly string[]).includes(name), `${name} is not a documented Indicator body parameter`);
  });
  test('educate URL only on Url with Block or Warn', () => {
    const p = policy({ educateUrl: 'https://intranet.test/blocked' });
    const url = (score: number) => renderIndicator(facts({ type: 'Url', value: 'https://evil.test/a', score }), opts, p);
    const get = (r: ReturnType<typeof url>) => (r.ok ? r.indicator.educateUrl : 'dropped');
    assert.equal(get(url(80)), 'https://intranet.test/blocked');
    assert.equal(get(url(10)), 'https://intranet.test/blocked');
    assert.equal(get(url(45)), undefined);
    const ip = renderIndicator(facts({ score: 80 }), opts, p);
    assert.equal(ip.ok && ip.indicator.educateUrl, undefined);
  });
  test('Audit forces generateAlert', () => {
    const r = renderIndicator(facts({ score: 45 }), opts, policy({ generateAlert: false }));
    assert.equal(r.ok && r.indicator.action, 'Audit');
    assert.equal(r.ok && r.indicator.generateAlert, true);
  });
  test('safelisted values are dropped unless Allowed', () => {
    const p = policy({ safelist: new Safelist(['example.com']) });
    assert.deepEqual(renderIndicator(facts({ type: 'DomainName', value: 'www.example.com' }), opts, p), { ok: false, reason: 'safelisted' });
    assert.deepEqual(renderIndicator(facts({ type: 'Url', value: 'https://example.com/x', score: 10 }), opts, p), { ok: false, reason: 'safelisted' });
    const allowed = renderIndicator(facts({ type: 'DomainName', value: 'www.example.com' }), opts, { ...p, fixedAction: 'Allowed' });
    assert.equal(allowed.ok && allowed.indicator.action, 'Allowed');
  });
  test('reserved addresses are dropped, as IPs and as URL hosts', () => {
    assert.deepEqual(renderIndicator(facts({ value: '10.0.0.1' }), opts, policy()), { ok: false, reason: 'reserved-address' });
    assert.deepEqual(renderIndicator(facts({ type: 'Url', value: 'http://127.0.0.1/x' }), opts, policy()), { ok: false, reason: 'reserved-address' });
  });
  test('a certificate with an Audit score is not sent', () => {
    assert.deepEqual(renderIndicator(facts({ type: 'CertificateThumbprint', value: 'a'.repeat(40), score: 40 }), opts, policy()), { ok: false, reason: 'action-unsupported' });
  });
});
