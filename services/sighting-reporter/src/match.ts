// Which of our indicators an alert's evidence names. Defender does not say which indicator raised a
// custom-TI alert, so the evidence values (file hashes, IP addresses, URLs) are turned into the keys
// Defender would match on and looked up among the indicators this application created in the tenant.
// A URL names its Url indicator, the DomainName indicators of its host and every parent domain (a
// domain indicator also matches its subdomains), and an IpAddress when its host is an address.
import { canonicalizeDomain, canonicalizeHash, canonicalizeIp, canonicalizeUrl } from '@octi-defender/indicators';
import { comparableCanonical } from '@octi-defender/defender-writer/defender/values';
import type { Alert, AlertEvidence } from './alert.ts';

/** Our indicators in the tenant: comparable key (`comparableKey`) → OpenCTI ids asserting it (externalID). */
export type OwnedIndex = ReadonlyMap<string, ReadonlySet<string>>;

function domainKeys(host: string): string[] {
  const d = canonicalizeDomain(host);
  if (!d.ok) return [];
  const labels = d.value.split('.');
  const keys: string[] = [];
  for (let i = 0; i < labels.length - 1; i++) keys.push(comparableCanonical('DomainName', labels.slice(i).join('.')));
  return keys;
}

function hostKeys(host: string): string[] {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const ip = canonicalizeIp(bare);
  if (ip.ok) return [comparableCanonical('IpAddress', ip.value)];
  return domainKeys(bare);
}

/** The comparable keys one piece of evidence can match. */
export function evidenceKeys(e: AlertEvidence): string[] {
  const keys: string[] = [];
  if (e.sha1 !== null) {
    const h = canonicalizeHash('FileSha1', e.sha1);
    if (h.ok) keys.push(comparableCanonical('FileSha1', h.value));
  }
  if (e.sha256 !== null) {
    const h = canonicalizeHash('FileSha256', e.sha256);
    if (h.ok) keys.push(comparableCanonical('FileSha256', h.value));
  }
  if (e.ipAddress !== null) {
    const ip = canonicalizeIp(e.ipAddress);
    if (ip.ok) keys.push(comparableCanonical('IpAddress', ip.value));
  }
  if (e.url !== null) {
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(e.url)) {
      const u = canonicalizeUrl(e.url);
      if (u.ok) {
        keys.push(comparableCanonical('Url', u.value));
        keys.push(...hostKeys(new URL(u.value).hostname));
      }
    } else {
      // Network evidence may carry a bare host name instead of a URL.
      keys.push(...hostKeys(e.url));
    }
  }
  return keys;
}

/** The OpenCTI ids of our indicators the alert's evidence matches (sorted, distinct); empty: none of ours. */
export function matchAlert(alert: Alert, owned: OwnedIndex): string[] {
  const ids = new Set<string>();
  for (const e of alert.evidence) {
    for (const key of evidenceKeys(e)) for (const id of owned.get(key) ?? []) ids.add(id);
  }
  return [...ids].sort();
}

/** True when some evidence value could name an indicator at all (then a miss may be a stale index). */
export function hasIndicatorEvidence(alert: Alert): boolean {
  return alert.evidence.some((e) => evidenceKeys(e).length > 0);
}
