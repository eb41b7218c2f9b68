import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import { ipFamily, IpRanges, isDocumentationIp, isRecord, isReservedIp, nonPublicRange, uuid5 } from '../src/index.ts';

describe('isRecord', () => {
  it('is true for plain objects only', () => {
    assert.equal(isRecord({}), true);
    assert.equal(isRecord({ a: 1 }), true);
    for (const v of [null, undefined, [], 'x', 1, true]) assert.equal(isRecord(v), false, String(v));
  });
});

describe('uuid5', () => {
  it('agrees with Python (uuid.uuid5)', () => {
    assert.equal(uuid5('6ba7b810-9dad-11d1-80b4-00c04fd430c8', 'python.org'), '886313e1-3b8a-5372-9b90-0c9aee199e5d');
  });
  it('refuses a namespace that is not a UUID', () => {
    assert.throws(() => uuid5('not-a-uuid', 'x'), RangeError);
  });
});

describe('reserved addresses', () => {
  it('names the range of special-purpose addresses', () => {
    for (
      const [ip, range] of [
        ['10.1.2.3', 'private'],
        ['127.0.0.1', 'loopback'],
        ['100.64.0.1', 'carrierGradeNat'],
        ['255.255.255.255', 'broadcast'],
        ['203.0.113.7', 'reserved'],
        ['2001:db8::1', 'reserved'],
        ['fd00::1', 'uniqueLocal'],
        ['::ffff:8.8.8.8', 'ipv4Mapped'],
        ['2002:808:808::1', '6to4'],
        ['2001:0:4136:e378::1', 'teredo'],
      ] as const
    ) assert.equal(nonPublicRange(ip), range, ip);
  });
  it('passes global unicast and text that is not a plain address', () => {
    for (const ip of ['8.8.8.8', '2001:4860:4860:0:0:0:0:8888', '0x7f.1', '134744072', '010.8.8.8', 'example.com', '']) {
      assert.equal(nonPublicRange(ip), undefined, ip);
      assert.equal(isReservedIp(ip), false, ip);
    }
  });
  it('reserves the documentation ranges unless told they are public', () => {
    for (const ip of ['192.0.2.1', '198.51.100.7', '203.0.113.7', '2001:db8:0:0:0:0:0:1', '3fff::1']) {
      assert.equal(isDocumentationIp(ip), true, ip);
      assert.equal(isReservedIp(ip), true, ip);
      assert.equal(isReservedIp(ip, { documentation: 'public' }), false, ip);
    }
    for (const ip of ['10.0.0.1', '198.18.0.1', '240.0.0.1', 'fe80::1']) {
      assert.equal(isDocumentationIp(ip), false, ip);
      assert.equal(isReservedIp(ip, { documentation: 'public' }), true, ip);
    }
  });
});

describe('IpRanges', () => {
  test('addresses and ranges of both families; an address matches its own family only', () => {
    const r = new IpRanges();
    r.add('198.51.100.10');
    r.add('192.0.2.0', 24);
    r.add('2001:db8::', 32);
    assert.equal(r.has('198.51.100.10'), true);
    assert.equal(r.has('198.51.100.11'), false);
    assert.equal(r.has('192.0.2.255'), true);
    assert.equal(r.has('2001:db8:0:0:0:0:0:1'), true);
    assert.equal(r.has('2001:db9::1'), false);
    assert.equal(r.has('::ffff:192.0.2.1'), false, 'IPv4-mapped is IPv6: no IPv6 range holds it');
    assert.equal(r.has('example.com'), false);
  });
  test('invalid addresses and prefixes are refused', () => {
    const r = new IpRanges();
    assert.throws(() => r.add('10.0.0.0', 33), /prefix/);
    assert.throws(() => r.add('2001:db8::', 129), /prefix/);
    assert.throws(() => r.add('10.0.0'), /not an IP address/);
    assert.throws(() => r.add('01.2.3.4'), /not an IP address/);
  });
  test('ipFamily: a literal address only', () => {
    assert.equal(ipFamily('203.0.113.7'), 'ipv4');
    assert.equal(ipFamily('2001:db8::1'), 'ipv6');
    assert.equal(ipFamily('203.0.113'), undefined);
    assert.equal(ipFamily('host.example'), undefined);
  });
});
