import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { extractValues, parsePattern, type Pattern } from '../src/index.ts';
import { MD5, SHA1, SHA256 } from './fixtures.ts';

function parse(src: string): Pattern {
  const r = parsePattern(src);
  if (!r.ok) assert.fail(`${src}: ${r.error.message}`);
  return r.pattern;
}

function errorOf(src: string): { position: number; message: string } {
  const r = parsePattern(src);
  if (r.ok) assert.fail(`expected a syntax error for ${src}`);
  return { position: r.error.position, message: r.error.message };
}

// STIX 2.1 specification, part 9.9 (pattern examples).
const SPEC_EXAMPLES = [
  String.raw`[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']`,
  String.raw`[email-message:from_ref.value MATCHES '.+\\@example\\.com$' AND email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\.exe$']`,
  String.raw`[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' AND file:mime_type = 'application/x-pdf']`,
  String
    .raw`[file:hashes.'SHA-256' = 'bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c' OR file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] AND [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']`,
  String.raw`[file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar'] WITHIN 300 SECONDS`,
  String
    .raw`[user-account:account_type = 'unix' AND user-account:user_id = '1007' AND user-account:account_login = 'Peter'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1008' AND user-account:account_login = 'Paul'] AND [user-account:account_type = 'unix' AND user-account:user_id = '1009' AND user-account:account_login = 'Mary']`,
  String.raw`[artifact:mime_type = 'application/vnd.tcpdump.pcap' AND artifact:payload_bin MATCHES '\\xd4\\xc3\\xb2\\xa1\\x02\\x00\\x04\\x00']`,
  String.raw`[file:name = 'foo.dll' AND file:parent_directory_ref.path = 'C:\\Windows\\System32']`,
  String.raw`[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]`,
  String.raw`[file:mime_type = 'image/bmp' AND file:magic_number_hex = h'ffd8']`,
  String.raw`[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.33/32']`,
  String.raw`[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 180 SECONDS`,
  String.raw`[domain-name:value = 'www.5z8.info' AND domain-name:resolves_to_refs[*].value = '198.51.100.1/32']`,
  String.raw`[url:value = 'http://example.com/foo' OR url:value = 'http://example.com/bar']`,
  String.raw`[x509-certificate:issuer = 'CN=WEBMAIL' AND x509-certificate:serial_number = '4c:0b:1d:19:74:86:a7:66:b4:1a:bf:40:27:21:76:28']`,
  String
    .raw`[windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\CryptoLocker\\Files' OR windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\Microsoft\\CurrentVersion\\Run\\CryptoLocker_0388']`,
  String.raw`[(file:name = 'pdf.exe' OR file:size = '371712') AND file:created = t'2014-01-13T07:03:17Z']`,
  String.raw`[email-message:sender_ref.value = 'jdoe@example.com' AND email-message:subject = 'Conference Info']`,
  String.raw`[x-usb-device:usbdrive.serial_number = '575833344E3835304B343731']`,
  String
    .raw`[process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachine Root$'] FOLLOWEDBY [process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher$'] WITHIN 300 SECONDS`,
  String.raw`[network-traffic:dst_ref.value ISSUBSET '2001:0db8:dead:beef:0000:0000:0000:0000/64']`,
  String.raw`([file:name = 'foo.dll'] AND [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) OR [process:name = 'fooproc' OR process:name = 'procfoo']`,
  String.raw`[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'`,
  String.raw`[network-traffic:src_port NOT IN (22, 80, 443) AND EXISTS network-traffic:extensions.'http-request-ext']`,
  String.raw`[ipv4-addr:value ISSUPERSET '198.51.100.0/24' OR ipv4-addr:value LIKE '198.51.%']`,
  String.raw`[file:size >= 1024 AND file:size <= 2048 AND file:size < 4096 AND file:size > -1 AND file:x_ratio != +0.5]`,
  String.raw`[artifact:payload_bin = b'SGVsbG8gV29ybGQ=' AND file:x_flag = true AND file:x_other == false AND file:size <> 3]`,
];

describe('parsePattern: STIX 2.1 specification examples', () => {
  for (const src of SPEC_EXAMPLES) {
    it(`parses ${src.slice(0, 70)}`, () => {
      parse(src);
    });
  }
});

describe('parsePattern: AST', () => {
  it('reads quoted and unquoted hash names, and string escapes', () => {
    const p = parse(String.raw`[file:hashes.'SHA-256' = 'it\'s a \\ path']`);
    assert.equal(p.kind, 'observation');
    if (p.kind !== 'observation' || p.comparison.kind !== 'comparison') return assert.fail();
    assert.deepEqual(p.comparison.path.steps, [{ kind: 'property', name: 'hashes' }, { kind: 'property', name: 'SHA-256' }]);
    assert.deepEqual(p.comparison.value, { kind: 'string', value: "it's a \\ path", pos: 25 });
    const q = parse(`[file:hashes.SHA-256 = '${SHA256}']`);
    if (q.kind !== 'observation' || q.comparison.kind !== 'comparison') return assert.fail();
    assert.equal(q.comparison.path.steps[1]?.kind === 'property' && q.comparison.path.steps[1].name, 'SHA-256');
  });

  it('gives comparison AND precedence over OR', () => {
    const p = parse("[a:x = '1' OR a:y = '2' AND a:z = '3']");
    if (p.kind !== 'observation') return assert.fail();
    assert.equal(p.comparison.kind, 'or');
    if (p.comparison.kind !== 'or') return;
    assert.equal(p.comparison.right.kind, 'and');
  });

  it('orders observation operators AND > OR > FOLLOWEDBY, qualifiers tightest', () => {
    const p = parse("[a:x = '1'] FOLLOWEDBY [a:x = '2'] OR [a:x = '3'] AND [a:x = '4'] WITHIN 5 SECONDS");
    assert.equal(p.kind, 'followedBy');
    if (p.kind !== 'followedBy') return;
    assert.equal(p.right.kind, 'or');
    if (p.right.kind !== 'or') return;
    assert.equal(p.right.right.kind, 'and');
    if (p.right.right.kind !== 'and') return;
    assert.equal(p.right.right.right.kind, 'qualified');
  });

  it('reads list indexes, IN sets, NOT, EXISTS and every literal kind', () => {
    const p = parse("[x:a[*].b[0].c[-1] NOT IN ('s', 1, -2, 1.5, true, h'00ff', b'AQID', t'2020-01-01T00:00:00.5Z') AND EXISTS x:d]");
    if (p.kind !== 'observation' || p.comparison.kind !== 'and') return assert.fail();
    const c = p.comparison.left;
    if (c.kind !== 'comparison') return assert.fail();
    assert.deepEqual(c.path.steps.map((s) => (s.kind === 'index' ? s.index : s.name)), ['a', '*', 'b', 0, 'c', -1]);
    assert.equal(c.negated, true);
    assert.equal(c.operator, 'IN');
    assert.deepEqual((c.value as readonly { kind: string }[]).map((l) => l.kind), ['string', 'int', 'int', 'float', 'bool', 'hex', 'binary', 'timestamp']);
    assert.equal(p.comparison.right.kind, 'exists');
  });

  it('reads qualifiers', () => {
    const p = parse("[a:x = '1'] REPEATS 3 TIMES WITHIN 2.5 SECONDS START t'2020-01-01T00:00:00Z' STOP t'2020-01-02T00:00:00Z'");
    assert.equal(p.kind, 'qualified');
    if (p.kind !== 'qualified') return;
    assert.deepEqual(p.qualifier, { kind: 'startStop', start: '2020-01-01T00:00:00Z', stop: '2020-01-02T00:00:00Z', pos: 47 });
  });
});

describe('parsePattern: errors name the position and what was expected', () => {
  const cases: [string, number, RegExp][] = [
    ["[ipv4-addr:value = '1.2.3.4'", 28, /expected '\]' or AND or OR but found end of pattern/],
    ["ipv4-addr:value = '1.2.3.4'", 0, /expected '\[' or '\(' but found identifier 'ipv4-addr'/],
    ["[ipv4-addr:value = '1.2.3.4]", 19, /unterminated string/],
    ["[ipv4-addr:value '1.2.3.4']", 17, /expected comparison operator/],
    ["[ipv4-addr = '1.2.3.4']", 11, /expected ':' after the object type/],
    ["[a:b = 'x' AND]", 14, /expected object path or EXISTS/],
    [String.raw`[a:b = 'bad \n escape']`, 12, /invalid escape/],
    ["[a:b = 'x'] WITHIN SECONDS", 19, /expected a positive number of seconds/],
    ["[a:b = 'x'] REPEATS 0 TIMES", 20, /expected a positive integer/],
    ["[a:b = 'x'] START t'2020-01-01' STOP t'2020-01-02T00:00:00Z'", 20, /RFC 3339/],
    ["[a:b = h'abc']", 12, /even number of hex digits/],
    ['[a:b > true]', 7, /booleans are not ordered/],
    ['[a:b LIKE 5]', 10, /string literal after LIKE/],
    ["[a:b IN ('x' 'y')]", 13, /expected ',' or '\)'/],
    ["[a:b = 'x'] [a:c = 'y']", 12, /expected AND or OR or FOLLOWEDBY or a qualifier or end of pattern/],
    ['[a:b = 007]', 7, /leading zeros/],
    ["[a:b = 'x'] & [a:c = 'y']", 12, /unexpected character '&'/],
    ['', 0, /expected '\[' or '\(' but found end of pattern/],
  ];
  for (const [src, position, message] of cases) {
    it(`${JSON.stringify(src)} → position ${position}`, () => {
      const e = errorOf(src);
      assert.equal(e.position, position, e.message);
      assert.match(e.message, message);
      assert.match(e.message, new RegExp(`^at position ${position}: `));
    });
  }
});

describe('extractValues', () => {
  const extract = (src: string) => extractValues(parse(src));

  it('takes = comparisons on each supported object type', () => {
    assert.deepEqual(extract("[ipv4-addr:value = '8.8.8.8']").values, [{ type: 'IpAddress', raw: '8.8.8.8' }]);
    assert.deepEqual(extract("[ipv6-addr:value = '2001:4860:4860::8888']").values, [{ type: 'IpAddress', raw: '2001:4860:4860::8888' }]);
    assert.deepEqual(extract("[domain-name:value = 'evil.example.com']").values, [{ type: 'DomainName', raw: 'evil.example.com' }]);
    assert.deepEqual(extract("[hostname:value = 'host.evil.example.com']").values, [{ type: 'DomainName', raw: 'host.evil.example.com' }]);
    assert.deepEqual(extract("[url:value = 'https://evil.example.com/a']").values, [{ type: 'Url', raw: 'https://evil.example.com/a' }]);
    assert.deepEqual(extract(`[x509-certificate:hashes.'SHA-1' = '${SHA1}']`).values, [{ type: 'CertificateThumbprint', raw: SHA1 }]);
  });

  it('accepts the spec and common spellings of hash names, case-insensitively', () => {
    for (const name of ["'SHA-256'", 'SHA256', "'sha256'", "'SHA_256'", 'sha-256']) {
      assert.deepEqual(extract(`[file:hashes.${name} = '${SHA256}']`).values, [{ type: 'FileSha256', raw: SHA256 }], name);
    }
    for (const name of ["'SHA-1'", 'SHA1', "'sha1'"]) assert.deepEqual(extract(`[file:hashes.${name} = '${SHA1}']`).values, [{ type: 'FileSha1', raw: SHA1 }]);
    for (const name of ['MD5', "'md5'"]) assert.deepEqual(extract(`[file:hashes.${name} = '${MD5}']`).values, [{ type: 'FileMd5', raw: MD5 }]);
  });

  it('yields each value of OR, within and between observations', () => {
    const r = extract("[ipv4-addr:value = '8.8.8.8' OR ipv4-addr:value = '1.1.1.1'] OR [domain-name:value = 'evil.example.com']");
    assert.deepEqual(r.values.map((v) => v.raw), ['8.8.8.8', '1.1.1.1', 'evil.example.com']);
    assert.deepEqual(r.problems, []);
  });

  it('keeps the strongest hash of one file under AND', () => {
    const r = extract(`[file:hashes.MD5 = '${MD5}' AND file:hashes.'SHA-256' = '${SHA256}' AND file:hashes.'SHA-1' = '${SHA1}']`);
    assert.deepEqual(r.values, [{ type: 'FileSha256', raw: SHA256 }]);
    assert.deepEqual(extract(`[file:hashes.MD5 = '${MD5}' AND file:hashes.'SHA-1' = '${SHA1}']`).values, [{ type: 'FileSha1', raw: SHA1 }]);
    assert.deepEqual(extract(`[file:hashes.'SHA-512' = 'ab' AND file:hashes.MD5 = '${MD5}']`).values, [{ type: 'FileMd5', raw: MD5 }]);
  });

  it('keeps representable OR branches and reports the others', () => {
    const r = extract("[ipv4-addr:value = '8.8.8.8'] OR [email-addr:value = 'a@example.com']");
    assert.deepEqual(r.values, [{ type: 'IpAddress', raw: '8.8.8.8' }]);
    assert.deepEqual(r.problems, [{ reason: 'unsupported_type', detail: 'email-addr not supported' }]);
  });

  const unsupported: [string, string, string][] = [
    ["[domain-name:value MATCHES '^evil']", 'unsupported_pattern', 'operator MATCHES not supported (domain-name:value)'],
    ["[domain-name:value LIKE 'evil%']", 'unsupported_pattern', 'operator LIKE not supported (domain-name:value)'],
    ["[ipv4-addr:value ISSUBSET '8.8.8.0/24']", 'unsupported_pattern', 'operator ISSUBSET not supported (ipv4-addr:value)'],
    ["[ipv4-addr:value != '8.8.8.8']", 'unsupported_pattern', '!= not supported (ipv4-addr:value)'],
    ["[ipv4-addr:value NOT = '8.8.8.8']", 'unsupported_pattern', 'NOT = on ipv4-addr:value not supported'],
    ["[ipv4-addr:value = '8.8.8.8'] FOLLOWEDBY [ipv4-addr:value = '1.1.1.1']", 'unsupported_pattern', 'FOLLOWEDBY not supported'],
    ["[ipv4-addr:value = '8.8.8.8'] AND [ipv4-addr:value = '1.1.1.1']", 'unsupported_pattern', 'AND between observations not supported'],
    ["[ipv4-addr:value = '8.8.8.8'] WITHIN 60 SECONDS", 'unsupported_pattern', 'qualifier WITHIN not supported'],
    ["[ipv4-addr:value = '8.8.8.8'] REPEATS 2 TIMES", 'unsupported_pattern', 'qualifier REPEATS not supported'],
    ["[ipv4-addr:value = '8.8.8.8'] START t'2020-01-01T00:00:00Z' STOP t'2021-01-01T00:00:00Z'", 'unsupported_pattern', 'qualifier START/STOP not supported'],
    ["[email-addr:value = 'a@example.com']", 'unsupported_type', 'email-addr not supported'],
    ["[ipv4-addr:value = '8.8.8.8' AND domain-name:value = 'evil.example.com']", 'unsupported_pattern', 'AND across different objects (ipv4-addr, domain-name)'],
    ["[domain-name:value = 'a.example.com' AND domain-name:value = 'b.example.com']", 'unsupported_pattern', 'AND of domain-name values not supported'],
    [`[file:hashes.MD5 = '${MD5}' AND file:hashes.MD5 = '${'0'.repeat(32)}']`, 'unsupported_pattern', 'AND of two different FileMd5 values'],
    [`[file:hashes.MD5 = '${MD5}' AND (file:hashes.'SHA-1' = '${SHA1}' OR file:hashes.'SHA-256' = '${SHA256}')]`, 'unsupported_pattern', 'OR nested inside AND not supported'],
    ["[domain-name:resolves_to_refs[*].value = '8.8.8.8']", 'unsupported_pattern', 'list index [*] in domain-name path not supported'],
    ["[file:name = 'a.exe']", 'unsupported_pattern', 'file:name not supported'],
    ["[file:hashes.'SHA-512' = 'ab']", 'unsupported_type', 'file hash SHA-512 not supported (MD5, SHA-1, SHA-256 only)'],
    [`[x509-certificate:hashes.'SHA-256' = '${SHA256}']`, 'unsupported_type', 'x509-certificate hash SHA-256 not supported (CertificateThumbprint takes SHA-1)'],
    ['[ipv4-addr:value = 134744072]', 'unsupported_pattern', 'non-string literal compared with ipv4-addr:value'],
    ['[EXISTS ipv4-addr:value]', 'unsupported_pattern', 'EXISTS not supported'],
  ];
  for (const [src, reason, detail] of unsupported) {
    it(`reports ${detail}`, () => {
      const r = extract(src);
      assert.deepEqual(r.values, []);
      assert.deepEqual(r.problems, [{ reason, detail }]);
    });
  }
});

describe('parsePattern and extractValues: no recursion limit', () => {
  const ip = (i: number): string => `11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

  it('100,000 nested parentheses around an observation', () => {
    const src = `${'('.repeat(100_000)}[ipv4-addr:value = '8.8.8.8']${')'.repeat(100_000)}`;
    assert.deepEqual(extractValues(parse(src)).values, [{ type: 'IpAddress', raw: '8.8.8.8' }]);
  });

  it('100,000 nested parentheses around a comparison', () => {
    const src = `[${'('.repeat(100_000)}ipv4-addr:value = '8.8.8.8'${')'.repeat(100_000)}]`;
    assert.deepEqual(extractValues(parse(src)).values, [{ type: 'IpAddress', raw: '8.8.8.8' }]);
  });

  it('100,000 unclosed parentheses are a syntax error at the end', () => {
    const src = `${'('.repeat(100_000)}[ipv4-addr:value = '8.8.8.8']`;
    const e = errorOf(src);
    assert.equal(e.position, src.length);
    assert.match(e.message, /expected '\)'/);
  });

  it('50,000 ORed comparisons in one observation', () => {
    const n = 50_000;
    const src = `[${Array.from({ length: n }, (_, i) => `ipv4-addr:value = '${ip(i)}'`).join(' OR ')}]`;
    const r = extractValues(parse(src));
    assert.equal(r.values.length, n);
    assert.deepEqual(r.values[0], { type: 'IpAddress', raw: ip(0) });
    assert.deepEqual(r.values[n - 1], { type: 'IpAddress', raw: ip(n - 1) });
    assert.deepEqual(r.problems, []);
  });

  it('50,000 ORed observations, in source order', () => {
    const n = 50_000;
    const src = Array.from({ length: n }, (_, i) => `[ipv4-addr:value = '${ip(i)}']`).join(' OR ');
    const r = extractValues(parse(src));
    assert.equal(r.values.length, n);
    assert.deepEqual(r.values.slice(0, 3).map((v) => v.raw), [ip(0), ip(1), ip(2)]);
    assert.equal(r.values[n - 1]?.raw, ip(n - 1));
  });

  it('50,000 ANDed hashes of one file, and 50,000 FOLLOWEDBY observations', () => {
    const sha = `[${Array.from({ length: 50_000 }, () => `file:hashes.'SHA-256' = '${SHA256}'`).join(' AND ')}]`;
    assert.deepEqual(extractValues(parse(sha)).values, [{ type: 'FileSha256', raw: SHA256 }]);
    const followed = Array.from({ length: 50_000 }, () => "[ipv4-addr:value = '8.8.8.8']").join(' FOLLOWEDBY ');
    assert.deepEqual(extractValues(parse(followed)).problems, [{ reason: 'unsupported_pattern', detail: 'FOLLOWEDBY not supported' }]);
  });

  it('nested parentheses mixing observation and comparison groups keep the precedence', () => {
    const p = parse("(([a:x = '1'] OR ([a:x = '2'])) AND [((a:y = '3') OR a:y = '4') AND a:z = '5'])");
    assert.equal(p.kind, 'and');
    if (p.kind !== 'and') return;
    assert.equal(p.left.kind, 'or');
    if (p.right.kind !== 'observation') return assert.fail();
    assert.equal(p.right.comparison.kind, 'and');
    if (p.right.comparison.kind !== 'and') return;
    assert.equal(p.right.comparison.left.kind, 'or');
  });
});

// STIX 2.1 grammar (cti-stix2-json-schemas pattern_grammar/STIXPattern.g4) and the reference validator
// (cti-pattern-validator, stix2patterns/v21/validator.py).
describe('parsePattern: STIX 2.1 qualifier and binary literal rules', () => {
  it('refuses a qualifier kind repeated on one observation', () => {
    const cases: [string, number, RegExp][] = [
      ["[a:b = 'x'] WITHIN 5 SECONDS WITHIN 6 SECONDS", 29, /WITHIN/],
      ["([a:b = 'x'] REPEATS 2 TIMES REPEATS 3 TIMES)", 29, /REPEATS/],
      ["[a:b = 'x'] START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00.123Z' START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00.123Z'", 79, /START/],
    ];
    for (const [src, position, kind] of cases) {
      const e = errorOf(src);
      assert.equal(e.position, position, e.message);
      assert.match(e.message, kind);
      assert.match(e.message, /qualifier .* once/);
    }
  });

  it('counts the kinds of the whole chain on one observation', () => {
    const e = errorOf("[a:b = 'x'] WITHIN 5 SECONDS REPEATS 2 TIMES WITHIN 1 SECONDS");
    assert.equal(e.position, 45, e.message);
    assert.match(e.message, /a second WITHIN qualifier/);
    assert.match(errorOf("([a:b = 'x']) WITHIN 5 SECONDS OR [a:c = 'y'] REPEATS 2 TIMES REPEATS 2 TIMES").message, /a second REPEATS qualifier/);
  });

  it('allows a qualifier kind again on a parenthesized group, and different kinds together', () => {
    parse("([a:b = 'x']) WITHIN 5 SECONDS WITHIN 6 SECONDS");
    parse("([a:b = 'x'] REPEATS 2 TIMES) REPEATS 2 TIMES");
    parse("[a:b = 'x'] REPEATS 2 TIMES WITHIN 5 SECONDS START t'2016-06-01T01:30:00Z' STOP t'2016-06-01T02:20:00Z'");
    parse("[a:b = 'x'] WITHIN 5 SECONDS AND [a:c = 'y'] WITHIN 5 SECONDS");
  });

  it('reads binary literals only as padded base64', () => {
    for (const ok of ['AQID', 'SGVsbG8gV29ybGQ=', 'dGhpcyBpcyBhIHRlc3Q=', 'YQ==', 'ab+/']) parse(`[artifact:payload_bin = b'${ok}']`);
    const bad: [string, number][] = [['====', 24], ['', 24], ['AQI', 24], ['A===', 24], ['AQ=D', 24], ['AQIDA', 24]];
    for (const [body, position] of bad) {
      const e = errorOf(`[artifact:payload_bin = b'${body}']`);
      assert.equal(e.position, position, `${body}: ${e.message}`);
      assert.match(e.message, /base64/);
    }
  });
});

describe('extractValues: values Defender can hold', () => {
  const extract = (src: string) => extractValues(parse(src));

  it('a file hash ANDed with other properties of the same file publishes the hash', () => {
    // MISP's export: the hash identifies the file; name and size describe the same object.
    assert.deepEqual(extract(`[file:hashes.MD5 = '${MD5}' AND file:name = 'a.exe']`), { values: [{ type: 'FileMd5', raw: MD5 }], problems: [] });
    assert.deepEqual(extract(`[file:name = 'invoice.pdf.exe' AND file:size = 73802 AND file:hashes.'SHA-256' = '${SHA256}' AND file:hashes.MD5 = '${MD5}']`), {
      values: [{ type: 'FileSha256', raw: SHA256 }],
      problems: [],
    });
    assert.deepEqual(extract(`[file:hashes.'SHA-1' = '${SHA1}' AND file:name MATCHES '^inv' AND file:parent_directory_ref.path = 'C:\\\\Temp']`).values, [{ type: 'FileSha1', raw: SHA1 }]);
    assert.deepEqual(extract(`[x509-certificate:hashes.'SHA-1' = '${SHA1}' AND x509-certificate:issuer = 'CN=WEBMAIL']`).values, [{ type: 'CertificateThumbprint', raw: SHA1 }]);
  });

  it('every other term on the same file only narrows it: EXISTS, NOT, other operators, unsupported hashes', () => {
    for (const other of ['EXISTS file:name', "file:name NOT = 'a.exe'", "file:name LIKE '%.exe'", 'file:size > 1024', `file:hashes.'SHA-512' = 'ab'`, "file:x_list[*] = 'y'"]) {
      assert.deepEqual(extract(`[file:hashes.'SHA-1' = '${SHA1}' AND ${other}]`), { values: [{ type: 'FileSha1', raw: SHA1 }], problems: [] }, other);
    }
    assert.deepEqual(extract(`[file:hashes.MD5 NOT = '${MD5}' AND file:hashes.'SHA-256' = '${SHA256}']`).values, [{ type: 'FileSha256', raw: SHA256 }]);
    assert.deepEqual(extract(`[file:hashes.'SHA-256' = h'${SHA256}' AND file:name = 'a.exe']`).values, [{ type: 'FileSha256', raw: SHA256 }]);
  });

  it('two different values of one hash still contradict, with other properties around', () => {
    assert.deepEqual(extract(`[file:name = 'a.exe' AND file:hashes.MD5 = '${MD5}' AND file:hashes.MD5 = '${'0'.repeat(32)}']`).problems, [{
      reason: 'unsupported_pattern',
      detail: 'AND of two different FileMd5 values',
    }]);
    assert.deepEqual(extract(`[file:hashes.MD5 = '${MD5.toUpperCase()}' AND file:hashes.MD5 = '${MD5}' AND file:size = 1]`).values, [{ type: 'FileMd5', raw: MD5.toUpperCase() }]);
  });

  it('properties of a file without a supported hash still publish nothing', () => {
    assert.deepEqual(extract("[file:name = 'a.exe' AND file:size = 10]").problems, [{ reason: 'unsupported_pattern', detail: 'file:name not supported' }]);
    assert.deepEqual(extract("[file:hashes.'SHA-512' = 'ab' AND file:name = 'a.exe']").problems, [{
      reason: 'unsupported_type',
      detail: 'file hash SHA-512 not supported (MD5, SHA-1, SHA-256 only)',
    }]);
  });

  it('expands IN sets to each value', () => {
    assert.deepEqual(extract("[ipv4-addr:value IN ('8.8.8.8', '1.1.1.1')]"), {
      values: [{ type: 'IpAddress', raw: '8.8.8.8' }, { type: 'IpAddress', raw: '1.1.1.1' }],
      problems: [],
    });
    assert.deepEqual(extract(`[file:hashes.MD5 IN ('${MD5}', '${'0'.repeat(32)}') AND file:name = 'a.exe']`).values, [{ type: 'FileMd5', raw: MD5 }, { type: 'FileMd5', raw: '0'.repeat(32) }]);
    assert.deepEqual(extract("[domain-name:value IN ('evil.example.com', 5)]"), {
      values: [{ type: 'DomainName', raw: 'evil.example.com' }],
      problems: [{ reason: 'unsupported_pattern', detail: 'non-string literal compared with domain-name:value' }],
    });
  });

  it('IN members follow the rules of = (hex on hashes, strings elsewhere), in order', () => {
    assert.deepEqual(extract(`[file:hashes.'SHA-256' IN (h'${SHA256}', '${'a'.repeat(64)}')]`).values, [{ type: 'FileSha256', raw: SHA256 }, { type: 'FileSha256', raw: 'a'.repeat(64) }]);
    assert.deepEqual(extract(`[x509-certificate:hashes.'SHA-1' IN ('${SHA1}')]`).values, [{ type: 'CertificateThumbprint', raw: SHA1 }]);
    assert.deepEqual(extract("[url:value IN (h'00ff')]").problems, [{ reason: 'unsupported_pattern', detail: 'non-string literal compared with url:value' }]);
    assert.deepEqual(extract("[email-addr:value IN ('a@example.com')]").problems, [{ reason: 'unsupported_type', detail: 'email-addr not supported' }]);
    assert.deepEqual(extract("[ipv4-addr:value IN ('8.8.8.8') OR domain-name:value IN ('evil.example.com', 'c2.example.net')]").values.map((v) => v.raw), [
      '8.8.8.8',
      'evil.example.com',
      'c2.example.net',
    ]);
  });

  const refused: [string, string, string][] = [
    ["[ipv4-addr:value NOT IN ('8.8.8.8')]", 'unsupported_pattern', 'NOT IN on ipv4-addr:value not supported'],
    ['[ipv4-addr:value IN ()]', 'unsupported_pattern', 'empty IN set on ipv4-addr:value matches nothing'],
    [`[file:hashes.MD5 IN ('${MD5}') AND file:hashes.'SHA-1' = '${SHA1}']`, 'unsupported_pattern', 'IN next to another hash of the same file not supported'],
    [`[file:hashes.MD5 = '${MD5}' AND file:name = 'a.exe' AND ipv4-addr:value = '8.8.8.8']`, 'unsupported_pattern', 'AND across different objects (file, ipv4-addr)'],
  ];
  for (const [src, reason, detail] of refused) {
    it(`reports ${detail}`, () => assert.deepEqual(extract(src), { values: [], problems: [{ reason, detail }] }));
  }
});
