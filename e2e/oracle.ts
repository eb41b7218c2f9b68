// The expected Defender state, from the history alone, by the writer's documented default policy
// restated as plain rules (services/defender-writer/README.md, "Policy: defaults and decisions"):
//
// - a claim is one OpenCTI entity asserting a value; its last facts count;
// - a claim is void when the entity is deleted or merged away, revoked, marked TLP:RED, expired
//   (valid_until in the past), or its value is one Defender cannot take; detection off voids it only
//   when the tenant requires detection (DEFENDER_REQUIRE_DETECTION, default false);
// - of the live claims on one value + type, the strongest decides: highest score, then the latest
//   event, then the smallest entity id;
// - score → action: ≥ 60 Block, ≥ 30 Audit, ≥ 1 Warn, 0 Audit;
// - certificates: Block is written BlockAndRemediate, Audit and Warn are not sent;
// - a value + type another application already holds in Defender is never ours;
// - every indicator carries the configured device groups;
// - with a room (what the tenant leaves our writers: the smaller of their budget and Defender's limit
//   less what other creators hold), only the `room` strongest keys are expected: by the deciding
//   claim's score, then its event (the later first), as the writer's cap orders them. The writer
//   knows an event's time to the millisecond, the history its order: the two agree when each step
//   was appended in a millisecond of its own (World.appendSpaced).
import type { Facts, History, IndicatorType } from './history.ts';

export interface Expected {
  readonly type: IndicatorType;
  readonly value: string;
  readonly action: string;
  readonly rbacGroupNames: readonly string[];
}

export const keyOf = (type: string, value: string): string => `${type}|${value.toLowerCase()}`;

export function actionFor(type: IndicatorType, score: number): string | undefined {
  const action = score >= 60 ? 'Block' : score >= 30 ? 'Audit' : score >= 1 ? 'Warn' : 'Audit';
  if (type !== 'CertificateThumbprint') return action;
  return action === 'Block' ? 'BlockAndRemediate' : undefined;
}

function alive(f: Facts, now: number, requireDetection: boolean): boolean {
  return f.type !== undefined && !f.deleted && !f.revoked && (f.detection || !requireDetection) && f.tlp !== 'TLP:RED' && (f.validUntil === undefined || Date.parse(f.validUntil) > now);
}

export interface OracleOptions {
  readonly now?: number;
  readonly foreignKeys?: ReadonlySet<string>;
  readonly rbacGroupNames?: readonly string[];
  readonly requireDetection?: boolean;
  /** Indicators our writers may hold; undefined: no limit binds. */
  readonly room?: number;
}

export function expectedState(history: History, opts: OracleOptions = {}): Map<string, Expected> {
  const now = opts.now ?? Date.now();
  // Last facts per entity, and the step of its last event (the order of events).
  const last = new Map<string, { facts: Facts; order: number }>();
  history.steps.forEach((step, order) => {
    if (step.kind !== 'op') return;
    for (const f of step.facts) last.set(f.entityId, { facts: f, order });
  });
  const claims = new Map<string, { facts: Facts; order: number }[]>();
  for (const c of last.values()) {
    if (!alive(c.facts, now, opts.requireDetection ?? false)) continue;
    const k = keyOf(c.facts.type!, c.facts.value);
    claims.set(k, [...(claims.get(k) ?? []), c]);
  }
  const ranked: { key: string; expected: Expected; score: number; order: number }[] = [];
  for (const [k, cs] of claims) {
    if (opts.foreignKeys?.has(k)) continue;
    const strongest = [...cs].sort((a, b) => b.facts.score - a.facts.score || b.order - a.order || (a.facts.entityId < b.facts.entityId ? -1 : 1))[0]!;
    const type = strongest.facts.type!;
    const action = actionFor(type, strongest.facts.score);
    if (action === undefined) continue;
    ranked.push({ key: k, expected: { type, value: strongest.facts.value, action, rbacGroupNames: [...(opts.rbacGroupNames ?? [])].sort() }, score: strongest.facts.score, order: strongest.order });
  }
  // Strongest first; two keys never share a step, so the order is total.
  ranked.sort((a, b) => b.score - a.score || b.order - a.order);
  const admitted = opts.room === undefined ? ranked : ranked.slice(0, Math.max(0, opts.room));
  return new Map(admitted.map((r) => [r.key, r.expected]));
}
