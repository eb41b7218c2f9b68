// The Defender indicator a key should have given its claims and the policy, and a stable hash of it:
// equal hashes mean the last call already sent exactly this, so the key costs no call.
import { createHash } from 'node:crypto';
import { strongest, strengthOf, type Claim, type Strength } from './claims.ts';
import type { Action, DefenderIndicator } from '../defender/model.ts';
import { eligibility, renderIndicator, type DropReason, type Policy } from './policy.ts';

export type Desired =
  | {
    readonly present: true;
    readonly indicator: DefenderIndicator;
    readonly hash: string;
    /** Defender keys indicators on value + type + action (and maybe scope): a new identity needs a new indicator. */
    readonly identity: string;
    readonly strength: Strength;
    readonly expiresAt: number;
  }
  | { readonly present: false; readonly reason: DropReason | 'no-claims' };

export function identityOf(action: Action, rbacGroupNames: readonly string[] | undefined): string {
  return [action, ...[...(rbacGroupNames ?? [])].sort()].join('|');
}

const isScalar = (x: unknown): boolean => x === null || typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean';
const isFlat = (x: unknown): boolean => x === undefined || isScalar(x) || (Array.isArray(x) && x.every(isScalar));
/** A key a plain object does not keep in insertion order: array indices (enumerated first) and `__proto__`. */
const isSpecialKey = (k: string): boolean => k === '__proto__' || (k.charCodeAt(0) >= 48 && k.charCodeAt(0) <= 57);

/**
 * JSON with sorted keys, so the hash does not depend on how the object was built. The text is what
 * every stored hash was computed over: it must not change (an undefined array item prints as nothing).
 */
function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) out += (i > 0 ? ',' : '') + (canonicalJson(v[i]) ?? '');
    return `${out}]`;
  }
  const o = v as Record<string, unknown>;
  // The default sort compares UTF-16 code units, as `<` does.
  const keys = Object.keys(o).sort();
  // An object of primitives and arrays of primitives (an indicator) prints natively in one string:
  // a copy with its keys inserted in sorted order gives the same text (faster than a replacer list).
  if (keys.every((k) => isFlat(o[k]) && !isSpecialKey(k))) {
    const sorted: Record<string, unknown> = {};
    for (const k of keys) sorted[k] = o[k];
    return JSON.stringify(sorted);
  }
  let out = '{';
  for (const k of keys) {
    const x = o[k];
    if (x === undefined) continue;
    out += (out.length > 1 ? ',' : '') + JSON.stringify(k) + ':' + canonicalJson(x);
  }
  return `${out}}`;
}

export function indicatorHash(indicator: DefenderIndicator): string {
  return createHash('sha256').update(canonicalJson(indicator)).digest('base64url').slice(0, 22);
}

/**
 * Fields come from the strongest eligible claim; the expiration is the latest of the eligible
 * claims' (the indicator lives as long as some source still asserts it). When no claim is eligible
 * the reason is the strongest claim's.
 */
export function desiredFor(claims: readonly Claim[], policy: Policy, now: number): Desired {
  if (claims.length === 0) return { present: false, reason: 'no-claims' };
  const eligible: Claim[] = [];
  let expiresAt = 0;
  for (const c of claims) {
    const e = eligibility(c.facts, c.at, policy, now);
    if (e.ok) {
      eligible.push(c);
      expiresAt = Math.max(expiresAt, e.expiresAt);
    }
  }
  const best = strongest(eligible);
  if (!best) {
    const top = strongest(claims) as Claim;
    const e = eligibility(top.facts, top.at, policy, now);
    return { present: false, reason: e.ok ? 'expired' : e.reason };
  }
  const r = renderIndicator(best.facts, { expiresAt, externalId: best.sourceId }, policy);
  if (!r.ok) return { present: false, reason: r.reason };
  return {
    present: true,
    indicator: r.indicator,
    hash: indicatorHash(r.indicator),
    identity: identityOf(r.indicator.action, r.indicator.rbacGroupNames),
    strength: strengthOf(best),
    expiresAt,
  };
}
