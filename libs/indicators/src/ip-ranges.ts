// Literal addresses and CIDR ranges matched in memory (a safelist's IPs), with ipaddr.js: the pure
// core of a service uses this, not node:net's BlockList.
import ipaddr from 'ipaddr.js';

export type IpFamily = 'ipv4' | 'ipv6';

/** The family of a literal address (a dotted quad, or IPv6), undefined for anything else. */
export function ipFamily(s: string): IpFamily | undefined {
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) return 'ipv4';
  if (ipaddr.IPv6.isValid(s)) return 'ipv6';
  return undefined;
}

/** A set of addresses and ranges of both families; an address matches ranges of its own family. */
export class IpRanges {
  readonly #v4: [ipaddr.IPv4, number][] = [];
  readonly #v6: [ipaddr.IPv6, number][] = [];

  /** Adds an address (`prefix` omitted: the whole length) or a range; throws on an invalid one. */
  add(address: string, prefix?: number): void {
    const family = ipFamily(address);
    if (family === 'ipv4') {
      const bits = prefix ?? 32;
      if (!Number.isInteger(bits) || bits < 0 || bits > 32) throw new Error(`bad prefix length /${bits} for ${address}`);
      this.#v4.push([ipaddr.IPv4.parse(address), bits]);
    } else if (family === 'ipv6') {
      const bits = prefix ?? 128;
      if (!Number.isInteger(bits) || bits < 0 || bits > 128) throw new Error(`bad prefix length /${bits} for ${address}`);
      this.#v6.push([ipaddr.IPv6.parse(address), bits]);
    } else {
      throw new Error(`${JSON.stringify(address)} is not an IP address`);
    }
  }

  has(address: string): boolean {
    const family = ipFamily(address);
    if (family === 'ipv4') {
      const a = ipaddr.IPv4.parse(address);
      return this.#v4.some((r) => a.match(r));
    }
    if (family === 'ipv6') {
      const a = ipaddr.IPv6.parse(address);
      return this.#v6.some((r) => a.match(r));
    }
    return false;
  }
}
