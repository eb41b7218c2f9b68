import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  canonicalizeDomain,
  canonicalizeHash,
  canonicalizeIp,
  canonicalizeUrl,
  indicatorKey,
  MAX_URL_LENGTH,
  parseIndicatorKey,
  refang,
  type DefenderIndicatorType,
  type Result,
  type ValueReject,
} from '../src/index.ts';
import { MD5, PUBLIC_IPV4, PUBLIC_IPV6, SHA1, SHA256 } from './fixtures.ts';

function okValue(r: Result<string, ValueReject>): string {
  if (!r.ok) assert.fail(`${r.error.reason}: ${r.error.detail}`);
  return r.value;
}

function rejected(r: Result<string, ValueReject>, reason: ValueReject['reason'], detail?: RegExp): void {
  if (r.ok) assert.fail(`expected ${reason}, got ${r.value}`);
  assert.equal(r.error.reason, reason, r.error.detail);
  if (detail) assert.match(r.error.detail, detail);
}

describe('refang', () => {
  const cases: [string, string][] = [
    ['evil[.]example[.]com', 'evil.example.com'],
    ['evil(.)example(.)com', 'evil.example.com'],
    ['evil{.}example{.}com', 'evil.example.com'],
    ['evil[dot]example[DOT]com', 'evil.example.com'],
    ['evil(dot)example.com', 'evil.example.com'],
    ['hxxp://evil.example.com', 'http://evil.example.com'],
    ['hxxps://evil.example.com', 'https://evil.example.com'],
    ['HXXPS://evil.example.com', 'https://evil.example.com'],
    ['https[:]//evil.example.com', 'https://evil.example.com'],
    ['https[://]evil.example.com[/]path', 'https://evil.example.com/path'],
    ['plain.example.com', 'plain.example.com'],
  ];
  for (const [input, want] of cases) it(`${input} → ${want}`, () => assert.equal(refang(input), want));
});

describe('canonicalizeIp', () => {
  it('accepts the public fixture addresses', () => {
    for (const ip of PUBLIC_IPV4) assert.equal(okValue(canonicalizeIp(ip)), ip);
    for (const ip of PUBLIC_IPV6) okValue(canonicalizeIp(ip));
  });

  it('writes IPv6 as 8 lower-case groups without leading zeros or ::', () => {
    const want = '2001:4860:4860:0:0:0:0:8888';
    for (
      const form of [
        '2001:4860:4860::8888',
        '2001:4860:4860:0:0:0:0:8888',
        '2001:4860:4860:0000:0000:0000:0000:8888',
        '2001:4860:4860::8888'.toUpperCase(),
        '[2001:4860:4860::8888]',
        ' 2001:4860:4860::8888 ',
      ]
    ) {
      assert.equal(okValue(canonicalizeIp(form)), want, form);
    }
    assert.equal(okValue(canonicalizeIp('2606:4700:4700::1111')), '2606:4700:4700:0:0:0:0:1111');
  });

  it('refangs, trims and NFKC-folds', () => {
    assert.equal(okValue(canonicalizeIp(' 8[.]8[.]8[.]8 ')), '8.8.8.8');
    assert.equal(okValue(canonicalizeIp('８.８.８.８')), '8.8.8.8'); // full-width digits
  });

  it('turns single-host CIDR into the address and rejects real ranges', () => {
    assert.equal(okValue(canonicalizeIp('8.8.8.8/32')), '8.8.8.8');
    assert.equal(okValue(canonicalizeIp('2001:4860:4860::8888/128')), '2001:4860:4860:0:0:0:0:8888');
    rejected(canonicalizeIp('8.8.8.0/24'), 'cidr', /single addresses only/);
    rejected(canonicalizeIp('2001:4860::/32'), 'cidr');
    rejected(canonicalizeIp('8.8.8.8/33'), 'invalid_value');
  });

  it('rejects leading zeros, octal, hex and short forms rather than guess', () => {
    for (const ip of ['008.008.008.008', '010.8.8.8', '0x8.8.8.8', '134744072', '8.8.2056']) {
      rejected(canonicalizeIp(ip), 'invalid_value', /not a plain dotted quad/);
    }
    for (const ip of ['256.1.1.1', '8.8.8', 'not-an-ip', '', '2001:4860::8888::1', 'fe80::1%eth0']) rejected(canonicalizeIp(ip), 'invalid_value');
  });

  const nonPublic: [string, string][] = [
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.1.1', 'private'],
    ['127.0.0.1', 'loopback'],
    ['169.254.1.1', 'linkLocal'],
    ['224.0.0.1', 'multicast'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['192.0.2.1', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.7', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['::1', 'loopback'],
    ['fe80::1', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['::ffff:8.8.8.8', 'ipv4Mapped'],
    ['::', 'unspecified'],
    ['2002:808:808::1', '6to4'],
    ['2001:0:4136:e378::1', 'teredo'],
  ];
  for (const [ip, range] of nonPublic) {
    it(`rejects ${ip} as ${range}`, () => rejected(canonicalizeIp(ip), 'private_ip', new RegExp(`${range} range`)));
  }
});

describe('canonicalizeDomain', () => {
  it('lower-cases, refangs, strips trailing dots', () => {
    assert.equal(okValue(canonicalizeDomain('Evil.Example.COM')), 'evil.example.com');
    assert.equal(okValue(canonicalizeDomain('evil[.]example[.]com.')), 'evil.example.com');
    assert.equal(okValue(canonicalizeDomain('evil.example.com..')), 'evil.example.com');
    assert.equal(okValue(canonicalizeDomain('  evil.example.co.uk\n')), 'evil.example.co.uk');
    assert.equal(okValue(canonicalizeDomain('_dmarc.example.com')), '_dmarc.example.com');
  });

  it('writes internationalized names as punycode', () => {
    assert.equal(okValue(canonicalizeDomain('Bücher.com')), 'xn--bcher-kva.com');
    assert.equal(okValue(canonicalizeDomain('xn--bcher-kva.com')), 'xn--bcher-kva.com');
    assert.equal(okValue(canonicalizeDomain('ｅｖｉｌ．example．com')), 'evil.example.com'); // full-width forms
  });

  it('rejects bare public suffixes, ICANN and private', () => {
    for (const d of ['com', 'co.uk', 'CO.UK.', 'github.io', 's3.amazonaws.com']) rejected(canonicalizeDomain(d), 'public_suffix');
    assert.equal(okValue(canonicalizeDomain('evil.github.io')), 'evil.github.io');
  });

  it('rejects invalid hostnames', () => {
    const bad: [string, RegExp][] = [
      ['', /empty/],
      ['evil..example.com', /empty label/],
      ['-evil.example.com', /starts or ends with '-'/],
      ['evil$.example.com', /invalid character/],
      [`${'a'.repeat(64)}.example.com`, /longer than 63/],
      [`${'abcdefghi.'.repeat(26)}com`, /longer than 253/],
      ['https://evil.example.com/x', /not a bare domain name/],
      ['user@example.com', /not a bare domain name/],
      ['*.example.com', /wildcard/],
      ['8.8.8.8', /IP address/],
      ['server.local', /no known public top-level domain/],
      ['localhost', /no known public top-level domain/],
    ];
    for (const [d, detail] of bad) rejected(canonicalizeDomain(d), 'invalid_value', detail);
  });
});

describe('canonicalizeUrl', () => {
  it('lower-cases scheme and host, keeps path and query case, drops fragment and default port', () => {
    assert.equal(okValue(canonicalizeUrl('HTTPS://Evil.Example.COM:443/Path/To?Q=AbC#frag')), 'https://evil.example.com/Path/To?Q=AbC');
    assert.equal(okValue(canonicalizeUrl('http://evil.example.com')), 'http://evil.example.com/');
    assert.equal(okValue(canonicalizeUrl('http://evil.example.com:8080/a/../b')), 'http://evil.example.com:8080/b');
    assert.equal(okValue(canonicalizeUrl('http://evil.example.com./x')), 'http://evil.example.com/x');
  });

  it('refangs', () => {
    assert.equal(okValue(canonicalizeUrl('hxxps[://]evil[.]example[.]com/payload.exe')), 'https://evil.example.com/payload.exe');
    assert.equal(okValue(canonicalizeUrl('hxxp://evil(.)example(.)com/a')), 'http://evil.example.com/a');
  });

  it('accepts public IP hosts, rejects private ones', () => {
    assert.equal(okValue(canonicalizeUrl('http://8.8.8.8/x')), 'http://8.8.8.8/x');
    assert.equal(okValue(canonicalizeUrl('http://[2001:4860:4860::8888]/x')), 'http://[2001:4860:4860::8888]/x');
    rejected(canonicalizeUrl('http://192.168.1.10/admin'), 'private_ip');
    rejected(canonicalizeUrl('http://0x7f.1/'), 'private_ip'); // WHATWG reads it as 127.0.0.1
    rejected(canonicalizeUrl('http://[::1]/'), 'private_ip');
  });

  it('rejects URLs without an http(s) scheme rather than guess one', () => {
    rejected(canonicalizeUrl('evil.example.com/path'), 'invalid_value', /no scheme/);
    rejected(canonicalizeUrl('evil.example.com:8080/path'), 'invalid_value', /no scheme/);
    rejected(canonicalizeUrl('ftp://evil.example.com/a'), 'invalid_value', /scheme 'ftp' is not supported/);
    rejected(canonicalizeUrl(''), 'invalid_value', /empty/);
  });

  it('rejects bad hosts, public suffix hosts and overlong URLs', () => {
    rejected(canonicalizeUrl('http://intranet.local/x'), 'invalid_value', /no known public top-level domain/);
    rejected(canonicalizeUrl('http://co.uk/x'), 'public_suffix');
    assert.equal(okValue(canonicalizeUrl('https://github.io/x')), 'https://github.io/x');
    rejected(canonicalizeUrl('http://exa mple.com/'), 'invalid_value');
    const long = `https://evil.example.com/${'a'.repeat(MAX_URL_LENGTH)}`;
    rejected(canonicalizeUrl(long), 'invalid_value', /longer than 2048/);
  });
});

describe('canonicalizeHash', () => {
  it('lower-cases and checks lengths', () => {
    assert.equal(okValue(canonicalizeHash('FileSha256', SHA256.toUpperCase())), SHA256);
    assert.equal(okValue(canonicalizeHash('FileSha1', ` ${SHA1} `)), SHA1);
    assert.equal(okValue(canonicalizeHash('FileMd5', MD5)), MD5);
    rejected(canonicalizeHash('FileMd5', SHA1), 'invalid_value', /FileMd5 must be 32 hex characters, got 40/);
    rejected(canonicalizeHash('FileSha1', MD5), 'invalid_value', /40 hex/);
    rejected(canonicalizeHash('FileSha256', SHA1), 'invalid_value', /64 hex/);
    rejected(canonicalizeHash('FileMd5', 'z'.repeat(32)), 'invalid_value', /non-hex character 'z'/);
  });

  it('accepts colon-separated certificate thumbprints', () => {
    const colons = SHA1.toUpperCase().match(/../g)?.join(':') ?? '';
    assert.equal(okValue(canonicalizeHash('CertificateThumbprint', colons)), SHA1);
    rejected(canonicalizeHash('CertificateThumbprint', SHA256), 'invalid_value');
  });
});

describe('indicatorKey / parseIndicatorKey', () => {
  it('builds <type>:<canonical value> keys', () => {
    const k = indicatorKey('Url', 'HXXPS://Evil[.]Example.com/A');
    assert.ok(k.ok);
    assert.deepEqual(k.value, { type: 'Url', value: 'https://evil.example.com/A', key: 'Url:https://evil.example.com/A' });
    const d = indicatorKey('DomainName', 'EVIL.example.com.');
    assert.ok(d.ok && d.value.key === 'DomainName:evil.example.com');
    const ip = indicatorKey('IpAddress', '10.0.0.1');
    assert.ok(!ip.ok && ip.error.reason === 'private_ip');
  });

  it('splits keys whose value contains colons', () => {
    assert.deepEqual(parseIndicatorKey('IpAddress:2001:4860:4860:0:0:0:0:8888'), { type: 'IpAddress', value: '2001:4860:4860:0:0:0:0:8888' });
    assert.deepEqual(parseIndicatorKey('Url:https://a.example.com/x'), { type: 'Url', value: 'https://a.example.com/x' });
    assert.equal(parseIndicatorKey('Email:a@b.c'), undefined);
    assert.equal(parseIndicatorKey('IpAddress:'), undefined);
    assert.equal(parseIndicatorKey('nocolon'), undefined);
  });
});

describe('canonical values are fixed points', () => {
  // normalizeEvent's observable_values cross-check relies on it: a value already canonical is found
  // among the pattern's keys as it stands.
  const raws: [DefenderIndicatorType, string][] = [
    ...[...PUBLIC_IPV4, ...PUBLIC_IPV6].map((ip): [DefenderIndicatorType, string] => ['IpAddress', ip]),
    ['IpAddress', '2001:4860:4860::8888'],
    ['IpAddress', '[2606:4700:4700::1111]'],
    ['IpAddress', '8.8.8.8/32'],
    ['IpAddress', ' 8[.]8[.]4[.]4 '],
    ['DomainName', 'Evil[.]Example[.]COM.'],
    ['DomainName', 'bücher.example.com'],
    ['DomainName', '_dmarc.evil.example.com'],
    ['DomainName', 'ＥＶＩＬ．example．com'],
    ['Url', 'hxxps://Evil.Example.com:443/Path?Q=1#frag'],
    ['Url', 'http://evil.example.com:8080/a%20b'],
    ['Url', 'https://bücher.example.com/ä?x=ü'],
    ['Url', 'HTTP://8.8.8.8/gate.php'],
    ['Url', 'https://[2001:4860:4860::8888]/x'],
    ['Url', 'https://evil.example.com'],
    ['FileSha256', SHA256.toUpperCase()],
    ['FileSha1', SHA1],
    ['FileMd5', ` ${MD5.toUpperCase()} `],
    ['CertificateThumbprint', SHA1.toUpperCase().replace(/(..)(?!$)/g, '$1:')],
  ];
  for (const [type, raw] of raws) {
    it(`${type} ${raw}`, () => {
      const once = indicatorKey(type, raw);
      if (!once.ok) assert.fail(`${once.error.reason}: ${once.error.detail}`);
      const twice = indicatorKey(type, once.value.value);
      assert.ok(twice.ok);
      assert.equal(twice.value.key, once.value.key);
    });
  }
});
