// Canonical indicator values and keys. One pure function per Defender type; every decision is
// explained in README.md ("Canonical forms").
import ipaddr from 'ipaddr.js';
import { domainToASCII } from 'node:url';
import { parse as parseDomain } from 'tldts';
import { nonPublicRange } from './reserved-ip.ts';
import { DEFENDER_INDICATOR_TYPES, type DefenderIndicatorType, type IndicatorKey, type Result, type ValueReject } from './types.ts';

/** Longest URL we publish. Defender documents no limit; 2,048 is the de-facto browser/IIS bound. */
export const MAX_URL_LENGTH = 2048;
const MAX_HOSTNAME_LENGTH = 253;

const ok = <T>(value: T): Result<T, ValueReject> => ({ ok: true, value });
const fail = (reason: ValueReject['reason'], detail: string): Result<never, ValueReject> => ({ ok: false, error: { reason, detail } });

// Defanged spellings seen in threat-intel feeds, longest first so `[://]` wins over `[:]`.
const DEFANGS: readonly (readonly [string, string])[] = [
  ['[://]', '://'],
  ['[:]', ':'],
  ['[.]', '.'],
  ['(.)', '.'],
  ['{.}', '.'],
  ['[dot]', '.'],
  ['(dot)', '.'],
  ['[/]', '/'],
];

/** Undoes common defanging: `[.]`, `(.)`, `{.}`, `[dot]`, `(dot)`, `[:]`, `[://]`, `[/]`, and `hxxp(s)`/`hxtp`/`htxp` schemes. */
export function refang(raw: string): string {
  let s = raw;
  // Fast path: most values are not defanged.
  if (s.includes('[') || s.includes('(') || s.includes('{')) {
    for (const [from, to] of DEFANGS) {
      if (s.includes(from)) s = s.replaceAll(from, to);
      const upper = from.toUpperCase();
      if (upper !== from && s.includes(upper)) s = s.replaceAll(upper, to);
    }
  }
  const head = s.slice(0, 5).toLowerCase();
  if (head === 'hxxps' || head === 'hxtps' || head === 'htxps') s = 'https' + s.slice(5);
  else if (head.startsWith('hxxp') || head.startsWith('hxtp') || head.startsWith('htxp')) s = 'http' + s.slice(4);
  return s;
}

/** NFKC + trim + refang: the common first step of every type. */
function prepare(raw: string): string {
  // NFKC folds full-width dots/digits and ligatures that would otherwise dodge matching.
  return refang(raw.normalize('NFKC').trim()).trim();
}

// ---- IP addresses --------------------------------------------------------------------------

function isStrictDottedQuad(s: string): boolean {
  const parts = s.split('.');
  if (parts.length !== 4) return false;
  for (const p of parts) {
    if (p.length === 0 || p.length > 3) return false;
    for (let i = 0; i < p.length; i++) {
      const c = p.charCodeAt(i);
      if (c < 48 || c > 57) return false;
    }
    if (p.length > 1 && p[0] === '0') return false; // leading zero: octal in inet_aton, decimal elsewhere
    if (Number(p) > 255) return false;
  }
  return true;
}

/**
 * Canonical IP: IPv4 dotted quad; IPv6 as all 8 groups, lower-case, no leading zeros, no `::`
 * (the form Defender documents: `2001:4860:4860:0:0:0:0:8888`). Single-host CIDR (/32, /128)
 * becomes the address; any other prefix is a `cidr` reject. Non-public ranges are `private_ip`.
 */
export function canonicalizeIp(raw: string): Result<string, ValueReject> {
  let s = prepare(raw);
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1); // bracketed IPv6 literal
  const slash = s.indexOf('/');
  if (slash >= 0) {
    const prefix = s.slice(slash + 1);
    const addrPart = s.slice(0, slash);
    const v6 = addrPart.includes(':');
    if (!ipaddr.isValidCIDR(s)) return fail('invalid_value', `'${s}' is not a valid CIDR or address`);
    if ((v6 && prefix !== '128') || (!v6 && prefix !== '32')) return fail('cidr', `address range '${s}': Defender takes single addresses only`);
    s = addrPart;
  }
  if (s.includes(':')) {
    if (s.includes('%')) return fail('invalid_value', `'${s}' has an IPv6 zone id`);
    if (!ipaddr.IPv6.isValid(s)) return fail('invalid_value', `'${s}' is not a valid IPv6 address`);
    const range = nonPublicRange(s);
    if (range !== undefined) return fail('private_ip', `${s} is in the IPv6 ${range} range`);
    return ok(ipaddr.IPv6.parse(s).parts.map((p) => p.toString(16)).join(':'));
  }
  if (!isStrictDottedQuad(s)) {
    return fail(
      'invalid_value',
      ipaddr.IPv4.isValid(s) || /^[0-9.]+$/.test(s)
        ? `'${s}' is not a plain dotted quad (leading zeros, octal, hex or short forms are ambiguous)`
        : `'${s}' is not a valid IPv4 address`,
    );
  }
  const range = nonPublicRange(s);
  if (range !== undefined) return fail('private_ip', `${s} is in the IPv4 ${range} range`);
  return ok(s);
}

// ---- Domains -----------------------------------------------------------------------------

function validHostnameSyntax(host: string): string | undefined {
  if (host.length === 0) return 'empty hostname';
  if (host.length > MAX_HOSTNAME_LENGTH) return `hostname longer than ${MAX_HOSTNAME_LENGTH} characters`;
  for (const label of host.split('.')) {
    if (label.length === 0) return 'empty label';
    if (label.length > 63) return `label '${label.slice(0, 20)}…' longer than 63 characters`;
    if (label.startsWith('-') || label.endsWith('-')) return `label '${label}' starts or ends with '-'`;
    for (let i = 0; i < label.length; i++) {
      const c = label.charCodeAt(i);
      // a-z 0-9 - _ (underscore appears in real DNS names such as _dmarc or SRV-style labels)
      if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95)) {
        return `invalid character '${label[i]}' in label '${label}'`;
      }
    }
  }
  return undefined;
}

/**
 * Checks a lower-case ASCII hostname: syntax, not an IP, a known TLD, and (when
 * `rejectPrivateSuffixes`) not a bare public suffix from either section of the Public Suffix List.
 */
function checkHostname(host: string, rejectPrivateSuffixes: boolean): ValueReject | undefined {
  const syntax = validHostnameSyntax(host);
  if (syntax !== undefined) return { reason: 'invalid_value', detail: `'${host}': ${syntax}` };
  const info = parseDomain(host, { allowPrivateDomains: true, extractHostname: false });
  if (info.isIp === true) return { reason: 'invalid_value', detail: `'${host}' is an IP address, not a domain name` };
  if (info.isIcann !== true && info.isPrivate !== true) {
    return { reason: 'invalid_value', detail: `'${host}' has no known public top-level domain ('${info.publicSuffix ?? host}')` };
  }
  if (info.domain === null) {
    if (info.isIcann === true || rejectPrivateSuffixes) {
      return { reason: 'public_suffix', detail: `'${host}' is a public suffix; blocking it would block every domain under it` };
    }
  }
  return undefined;
}

/**
 * Canonical domain: lower-case ASCII (IDNs as punycode A-labels), no trailing dots.
 * Rejects bare public suffixes (ICANN and private sections: `com`, `co.uk`, `github.io`), since
 * a Defender domain indicator also matches every subdomain.
 */
export function canonicalizeDomain(raw: string): Result<string, ValueReject> {
  let s = prepare(raw);
  while (s.endsWith('.')) s = s.slice(0, -1);
  if (s.length === 0) return fail('invalid_value', 'empty domain name');
  if (s.startsWith('*.')) return fail('invalid_value', `'${s}': wildcard domains are not supported by Defender`);
  if (/[/:@\s]/.test(s)) return fail('invalid_value', `'${s}' is not a bare domain name (looks like a URL, address or e-mail)`);
  const ascii = domainToASCII(s);
  if (ascii === '') return fail('invalid_value', `'${s}' is not a valid domain name`);
  const problem = checkHostname(ascii, true);
  if (problem !== undefined) return { ok: false, error: problem };
  return ok(ascii);
}

// ---- URLs --------------------------------------------------------------------------------

/**
 * Canonical URL: WHATWG URL serialization of an http(s) URL (lower-case scheme and host, punycode,
 * default port dropped, dot segments resolved, `/` path when empty), path and query case kept,
 * fragment dropped. A URL without a scheme is rejected (no guessing of http vs https).
 */
export function canonicalizeUrl(raw: string): Result<string, ValueReject> {
  const s = prepare(raw);
  if (s.length === 0) return fail('invalid_value', 'empty URL');
  const colon = s.indexOf(':');
  const scheme = colon > 0 ? s.slice(0, colon).toLowerCase() : '';
  const isHttp = scheme === 'http' || scheme === 'https';
  // `host:8080/x` has a colon but no scheme; `ftp://` has a scheme we do not publish.
  if (!isHttp && !(/^[a-z][a-z0-9+.-]*$/.test(scheme) && s.startsWith('://', colon))) {
    return fail('invalid_value', `'${s.slice(0, 80)}' has no scheme; a URL indicator needs http:// or https://`);
  }
  if (!isHttp) return fail('invalid_value', `scheme '${scheme}' is not supported (http and https only)`);
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    return fail('invalid_value', `'${s.slice(0, 80)}' is not a valid URL`);
  }
  url.hash = '';
  let host = url.hostname;
  if (host.endsWith('.')) {
    while (host.endsWith('.')) host = host.slice(0, -1);
    url.hostname = host;
  }
  if (host.startsWith('[')) {
    const ip = canonicalizeIp(host);
    if (!ip.ok) return ip;
  } else if (isStrictDottedQuad(host)) { // WHATWG already turned numeric forms into dotted quads
    const ip = canonicalizeIp(host);
    if (!ip.ok) return ip;
  } else {
    // A URL on a private-section suffix host (https://github.io/x) is a real, specific resource.
    const problem = checkHostname(host, false);
    if (problem !== undefined) return { ok: false, error: problem };
  }
  const href = url.href;
  if (href.length > MAX_URL_LENGTH) return fail('invalid_value', `URL longer than ${MAX_URL_LENGTH} characters (${href.length})`);
  return ok(href);
}

// ---- Hashes ------------------------------------------------------------------------------

const HASH_LENGTHS = { FileMd5: 32, FileSha1: 40, FileSha256: 64, CertificateThumbprint: 40 } as const;
export type HashIndicatorType = keyof typeof HASH_LENGTHS;

/**
 * Canonical hash: lower-case hex of the exact length (MD5 32, SHA-1 40, SHA-256 64; certificate
 * thumbprints are SHA-1, 40). Colons and spaces between byte pairs (`AB:CD:…`, as certificate
 * tools print thumbprints) are removed.
 */
export function canonicalizeHash(type: HashIndicatorType, raw: string): Result<string, ValueReject> {
  let s = raw.normalize('NFKC').trim().toLowerCase();
  if (s.includes(':') || s.includes(' ')) s = s.replaceAll(':', '').replaceAll(' ', '');
  const want = HASH_LENGTHS[type];
  if (s.length !== want) return fail('invalid_value', `${type} must be ${want} hex characters, got ${s.length}`);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return fail('invalid_value', `${type} has a non-hex character '${s[i]}'`);
  }
  return ok(s);
}

// ---- Keys --------------------------------------------------------------------------------

export function canonicalizeValue(type: DefenderIndicatorType, raw: string): Result<string, ValueReject> {
  switch (type) {
    case 'IpAddress':
      return canonicalizeIp(raw);
    case 'DomainName':
      return canonicalizeDomain(raw);
    case 'Url':
      return canonicalizeUrl(raw);
    default:
      return canonicalizeHash(type, raw);
  }
}

/** Canonicalizes a raw value of a Defender type into its key. */
export function indicatorKey(type: DefenderIndicatorType, raw: string): Result<IndicatorKey, ValueReject> {
  const v = canonicalizeValue(type, raw);
  return v.ok ? { ok: true, value: { type, value: v.value, key: `${type}:${v.value}` } } : v;
}

const TYPE_SET: ReadonlySet<string> = new Set(DEFENDER_INDICATOR_TYPES);

/** Splits a key back into type and value (the value may contain ':'). */
export function parseIndicatorKey(key: string): { type: DefenderIndicatorType; value: string } | undefined {
  const colon = key.indexOf(':');
  if (colon <= 0) return undefined;
  const type = key.slice(0, colon);
  const value = key.slice(colon + 1);
  if (!TYPE_SET.has(type) || value.length === 0) return undefined;
  return { type: type as DefenderIndicatorType, value };
}
