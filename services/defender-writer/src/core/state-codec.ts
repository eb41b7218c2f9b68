// A key's state as a changelog record (JSON), and the bound on one record: the broker refuses a record
// over message.max.bytes, so a state claimed by too many sources keeps its strongest claims.
import { compareEventIds } from '@octi-defender/indicators';
import { compareStrength, strengthOf, type Claim } from './claims.ts';
import type { KeyState } from './plan.ts';

export function encodeState(s: KeyState): string {
  return JSON.stringify(s);
}

/**
 * A state whose encoding fits `maxChars`: the weakest claims are dropped (and returned) when there
 * are too many for one changelog record, which the broker would refuse (message.max.bytes).
 */
export function fitState(s: KeyState, maxChars: number): { state: KeyState; dropped: readonly Claim[] } {
  const size = (x: unknown): number => JSON.stringify(x).length + 1;
  const total = size(s);
  if (total <= maxChars) return { state: s, dropped: [] };
  const byStrength = [...s.claims].sort((a, b) => compareStrength(strengthOf(b), strengthOf(a)) || compareEventIds(b.eventId, a.eventId));
  let budget = maxChars - (total - s.claims.reduce((n, c) => n + size(c), 0));
  const kept: Claim[] = [];
  const dropped: Claim[] = [];
  for (const c of byStrength) {
    const n = size(c);
    // The strongest claim stays whatever its size: it decides the indicator.
    if (n <= budget || kept.length === 0) {
      kept.push(c);
      budget -= n;
    } else {
      dropped.push(c);
    }
  }
  return { state: { ...s, claims: kept }, dropped };
}

export function decodeState(text: string): KeyState {
  const v = JSON.parse(text) as KeyState;
  if (!Array.isArray(v.claims)) throw new Error('state has no claims array');
  return v;
}
