// The tenant's policy: what one OpenCTI claim becomes in Defender, or why it is not sent. Pure and
// deterministic: the only clock input is `now`, used to decide that something has already expired.
import { ipFamily, IpRanges, isReservedIp as isReservedAddress } from '@octi-defender/indicators';
import { NETWORK_TYPES, type Action, type DefenderIndicator, type IndicatorType, type Severity } from '../defender/model.ts';
import type { IndicatorFacts } from './facts.ts';

/** Actions an operator may configure: the supported five plus the deprecated two the connectors accept. */
export const CONFIGURED_ACTIONS = ['Allowed', 'Audit', 'Warn', 'Block', 'BlockAndRemediate', 'Alert', 'AlertAndBlock'] as const;
export type ConfiguredAction = (typeof CONFIGURED_ACTIONS)[number];

export interface ScoreRule {
  readonly min: number;
  readonly action: ConfiguredAction;
}

export interface Policy {
  readonly application: string;
  /** One action for everything; undefined = the score rules. */
  readonly fixedAction?: ConfiguredAction | undefined;
  /** Sorted by `min` descending, the last one at 0. */
  readonly scoreRules: readonly ScoreRule[];
  readonly minScore: number;
  /** Claims whose OpenCTI `detection` is false are not sent (null, as on observables, passes). */
  readonly requireDetection: boolean;
  readonly expireDays: number;
  readonly expireDaysByType: Partial<Record<IndicatorType, number>>;
  /** Normalized marking names (see normalizeTlp). */
  readonly tlpNever: ReadonlySet<string>;
  readonly tlpExpireDays: Readonly<Record<string, number>>;
  readonly safelist: Safelist;
  readonly rbacGroupNames: readonly string[];
  readonly recommendedActions?: string | undefined;
  readonly educateUrl?: string | undefined;
  readonly generateAlert: boolean;
  readonly titleMaxLength: number;
  readonly descriptionMaxLength: number;
}

export type DropReason =
  | 'tlp-never'
  | 'below-min-score'
  | 'revoked'
  | 'detection-off'
  | 'expired'
  | 'safelisted'
  | 'reserved-address'
  | 'action-unsupported'
  | 'over-cap';

export const DAY_MS = 86_400_000;

/** `tlp:white` and `TLP:WHITE` are the old name of TLP:CLEAR; case and spaces do not matter. */
export function normalizeTlp(name: string): string {
  const n = name.trim().toUpperCase().replace(/\s+/g, '');
  return n === 'TLP:WHITE' ? 'TLP:CLEAR' : n;
}

/**
 * Addresses Defender refuses (the one rule of libs/indicators), with the documentation ranges let
 * through: examples and tests use them as public addresses, and the listener refuses them upstream.
 */
export function isReservedIp(ip: string): boolean {
  return isReservedAddress(ip, { documentation: 'public' });
}

function normalizeHost(host: string): string {
  return host.trim().toLowerCase().replace(/^\[|\]$/g, '').replace(/\.+$/, '');
}

/** The host of a Url indicator's value, or undefined when it does not parse. */
function urlHost(value: string): string | undefined {
  try {
    return normalizeHost(new URL(value).hostname);
  } catch {
    return undefined;
  }
}

/** Domains (and their subdomains), IPs and CIDRs that are never blocked, warned or audited. */
export class Safelist {
  readonly #domains = new Set<string>();
  readonly #ips = new IpRanges();
  readonly size: number;

  /** Throws on an entry that is neither a domain, an IP nor a CIDR. */
  constructor(entries: readonly string[]) {
    for (const raw of entries) {
      const e = normalizeHost(raw).replace(/^\*\./, '');
      const cidr = /^(.+)\/(\d{1,3})$/.exec(e);
      const family = ipFamily(cidr ? (cidr[1] ?? '') : e);
      if (cidr && family) {
        const prefix = Number(cidr[2]);
        if (prefix > (family === 'ipv4' ? 32 : 128)) throw new Error(`bad prefix length in ${raw}`);
        this.#ips.add(cidr[1] ?? '', prefix);
      } else if (family) {
        this.#ips.add(e);
      } else if (/^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(e)) {
        this.#domains.add(e);
      } else {
        throw new Error(`safelist entry ${JSON.stringify(raw)} is not a domain, IP or CIDR`);
      }
    }
    this.size = entries.length;
  }

  /** True when the host (domain or IP) or one of its parent domains is listed. */
  hostListed(host: string): boolean {
    const h = normalizeHost(host);
    if (ipFamily(h)) return this.#ips.has(h);
    for (let d = h; d !== ''; d = d.slice(d.indexOf('.') + 1 || d.length)) {
      if (this.#domains.has(d)) return true;
    }
    return false;
  }

  matches(type: IndicatorType, value: string): boolean {
    // The default is no safelist: asked for every indicator rendered, it costs nothing then.
    if (this.size === 0) return false;
    if (type === 'IpAddress' || type === 'DomainName') return this.hostListed(value);
    if (type === 'Url') {
      const host = urlHost(value);
      return host !== undefined && this.hostListed(host);
    }
    return false;
  }
}

export function severityFor(score: number): Severity {
  if (score >= 60) return 'High';
  if (score >= 40) return 'Medium';
  if (score >= 20) return 'Low';
  return 'Informational';
}

export function configuredActionFor(score: number, policy: Pick<Policy, 'fixedAction' | 'scoreRules'>): ConfiguredAction {
  if (policy.fixedAction) return policy.fixedAction;
  return (policy.scoreRules.find((r) => score >= r.min) ?? policy.scoreRules.at(-1))?.action ?? 'Audit';
}

/**
 * Maps a configured action onto what Defender supports for the type: Alert → Audit with an alert;
 * AlertAndBlock → BlockAndRemediate (files, certificates) or Block (network); BlockAndRemediate on a
 * network type → Block and Block on a certificate → BlockAndRemediate (each type's blocking form).
 * Certificates support nothing else, so Audit or Warn on one is undefined (not sent).
 */
export function resolveAction(type: IndicatorType, configured: ConfiguredAction): Action | undefined {
  const network = NETWORK_TYPES.has(type);
  switch (configured) {
    case 'Alert':
      return type === 'CertificateThumbprint' ? undefined : 'Audit';
    case 'AlertAndBlock':
    case 'BlockAndRemediate':
    case 'Block':
      if (network) return 'Block';
      if (type === 'CertificateThumbprint') return 'BlockAndRemediate';
      return configured === 'Block' ? 'Block' : 'BlockAndRemediate';
    case 'Audit':
    case 'Warn':
      return type === 'CertificateThumbprint' ? undefined : configured;
    case 'Allowed':
      return 'Allowed';
  }
}

/** Defender requires an alert for Audit; the deprecated alerting actions imply one; Allowed never alerts. */
export function generateAlertFor(action: Action, configured: ConfiguredAction, policy: Pick<Policy, 'generateAlert'>): boolean {
  if (action === 'Audit' || configured === 'Alert' || configured === 'AlertAndBlock') return true;
  if (action === 'Allowed') return false;
  return policy.generateAlert;
}

/** Cuts at a word boundary when one is near the end, never inside a surrogate pair, and marks the cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  if (space >= max * 0.6) cut = cut.slice(0, space);
  const last = cut.charCodeAt(cut.length - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut = cut.slice(0, -1);
  return `${cut.trimEnd()}…`;
}

// What oneLine changes: a control character, whitespace other than a space, two spaces, a space at either end.
// eslint-disable-next-line no-control-regex
const NOT_ONE_LINE = /[\u0000-\u001f\u007f]|[^\S ]| {2}|^ | $/;

function oneLine(s: string | null | undefined): string {
  // Most names and descriptions are one clean line already: one test instead of two replaces and a trim.
  if (!s || !NOT_ONE_LINE.test(s)) return s ?? '';
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
}

export function titleFor(facts: Pick<IndicatorFacts, 'name' | 'value'>, max: number): string {
  return truncate(oneLine(facts.name) || facts.value, max);
}

export function descriptionFor(facts: Pick<IndicatorFacts, 'description'>, max: number): string {
  return truncate(oneLine(facts.description) || 'Imported from OpenCTI', max);
}

/** Expiration days of a claim: the shortest matching marking rule, else the type's, else the default. */
export function expirationDaysFor(facts: Pick<IndicatorFacts, 'type' | 'markings'>, policy: Policy): number {
  let best: number | undefined;
  for (const m of facts.markings ?? []) {
    const d = policy.tlpExpireDays[normalizeTlp(m)];
    if (d !== undefined && (best === undefined || d < best)) best = d;
  }
  return best ?? policy.expireDaysByType[facts.type] ?? policy.expireDays;
}

type Eligibility = { readonly ok: true; readonly expiresAt: number } | { readonly ok: false; readonly reason: DropReason };

/**
 * Whether one claim may put its indicator in Defender, and until when. The expiration is anchored on
 * the claim's event time (`at`) rounded up to the next UTC midnight, so replays and re-asserts on the
 * same day give the same value (and the same hash), then capped by valid_until.
 */
export function eligibility(facts: IndicatorFacts, at: number, policy: Policy, now: number): Eligibility {
  if (facts.markings?.some((m) => policy.tlpNever.has(normalizeTlp(m)))) return { ok: false, reason: 'tlp-never' };
  if (facts.revoked === true) return { ok: false, reason: 'revoked' };
  if (policy.requireDetection && facts.detection === false) return { ok: false, reason: 'detection-off' };
  if ((facts.score ?? 0) < policy.minScore) return { ok: false, reason: 'below-min-score' };
  let expiresAt = Math.ceil(at / DAY_MS) * DAY_MS + expirationDaysFor(facts, policy) * DAY_MS;
  const validUntil = facts.validUntil ? Date.parse(facts.validUntil) : NaN;
  if (Number.isFinite(validUntil)) expiresAt = Math.min(expiresAt, validUntil);
  if (expiresAt <= now) return { ok: false, reason: 'expired' };
  return { ok: true, expiresAt };
}

type Rendered = { readonly ok: true; readonly indicator: DefenderIndicator } | { readonly ok: false; readonly reason: DropReason };

/** The Defender indicator for the strongest claim's facts, or why none may be sent. */
export function renderIndicator(
  facts: IndicatorFacts,
  opts: { readonly expiresAt: number; readonly externalId?: string | undefined },
  policy: Policy,
): Rendered {
  const { type, value } = facts;
  const host = type === 'IpAddress' ? value : type === 'Url' ? urlHost(value) : undefined;
  if (host !== undefined && isReservedIp(host)) return { ok: false, reason: 'reserved-address' };
  const score = facts.score ?? 0;
  const configured = configuredActionFor(score, policy);
  const action = resolveAction(type, configured);
  if (action === undefined) return { ok: false, reason: 'action-unsupported' };
  if (action !== 'Allowed' && policy.safelist.matches(type, value)) return { ok: false, reason: 'safelisted' };
  const indicator: DefenderIndicator = {
    indicatorValue: value,
    indicatorType: type,
    action,
    title: titleFor(facts, policy.titleMaxLength),
    description: descriptionFor(facts, policy.descriptionMaxLength),
    application: policy.application,
    severity: severityFor(score),
    generateAlert: generateAlertFor(action, configured, policy),
    expirationTime: new Date(opts.expiresAt).toISOString().replace('.000Z', 'Z'),
    ...(opts.externalId !== undefined && { externalID: opts.externalId }),
    ...(policy.recommendedActions !== undefined && { recommendedActions: policy.recommendedActions }),
    ...(policy.rbacGroupNames.length > 0 && { rbacGroupNames: policy.rbacGroupNames }),
    ...(policy.educateUrl !== undefined && type === 'Url' && (action === 'Block' || action === 'Warn') && { educateUrl: policy.educateUrl }),
  };
  return { ok: true, indicator };
}
