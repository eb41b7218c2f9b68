// Which IP addresses Defender refuses as indicators: the one rule of the listener (canonical keys),
// the writer's policy and the Defender emulator. README.md, "Reserved addresses", says why.
import ipaddr from 'ipaddr.js';
import { isIPv4 } from 'node:net';

// IPv4 only as a plain dotted quad: ipaddr.js alone would also read `0x7f.1` or `134744072`.
const parse = (ip: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined => isIPv4(ip) ? ipaddr.IPv4.parse(ip) : ipaddr.IPv6.isValid(ip) ? ipaddr.IPv6.parse(ip) : undefined;

/**
 * The special-purpose range of an address, named as ipaddr.js names it (`private`, `loopback`,
 * `reserved`, `carrierGradeNat`, `uniqueLocal`, `teredo`, …), or undefined for a global unicast
 * address and for text that is not a plain IPv4 dotted quad or IPv6 address.
 */
export function nonPublicRange(ip: string): string | undefined {
  const range = parse(ip)?.range();
  return range === 'unicast' ? undefined : range;
}

// RFC 5737, RFC 3849 and RFC 9637: reserved for documentation, hence what examples and tests use as public.
const DOCUMENTATION = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24', '2001:db8::/32', '3fff::/20'].map((cidr) => ipaddr.parseCIDR(cidr));

/** True for an address in a documentation range (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20). */
export function isDocumentationIp(ip: string): boolean {
  const addr = parse(ip);
  return addr !== undefined && DOCUMENTATION.some(([net, prefix]) => net.kind() === addr.kind() && addr.match(net, prefix));
}

/**
 * True when Defender would refuse the address ("only external IPs"): any special-purpose range.
 * `documentation: 'public'` lets the documentation ranges through (the writer's choice; README.md).
 */
export function isReservedIp(ip: string, options: { documentation?: 'reserved' | 'public' } = {}): boolean {
  if (nonPublicRange(ip) === undefined) return false;
  return options.documentation !== 'public' || !isDocumentationIp(ip);
}
