// Per key, the set of claims: which OpenCTI entities currently assert this Defender indicator. The
// indicator exists while one claim does; a retract removes only its own source's claim.
import { compareEventIds, eventTime as eventTimeOf } from '@octi-defender/indicators';
import type { ClaimCommand, IndicatorFacts } from './facts.ts';

export interface Claim {
  readonly sourceId: string;
  readonly streamId: string;
  readonly eventId: string;
  /** Event time in ms since the epoch, from the SSE event id. */
  readonly at: number;
  readonly facts: IndicatorFacts;
}

/** Score first, then recency: what "strongest" means for claims and for the cap. */
export interface Strength {
  readonly score: number;
  readonly at: number;
}

/** The ms part of an SSE event id `<ms>-<seq>`; 0 when it is not one or not a printable date (sorts as oldest). */
export function eventTime(eventId: string): number {
  return eventTimeOf(eventId) ?? 0;
}

export function strengthOf(claim: Claim): Strength {
  return { score: claim.facts.score ?? 0, at: claim.at };
}

/** > 0 when `a` is stronger than `b`. */
export function compareStrength(a: Strength, b: Strength): number {
  return a.score - b.score || a.at - b.at;
}

/** The strongest claim; ties go to the later event, then to the smaller source id so the pick is stable. */
export function strongest(claims: readonly Claim[]): Claim | undefined {
  let best: Claim | undefined;
  for (const c of claims) {
    if (!best) {
      best = c;
      continue;
    }
    const d = compareStrength(strengthOf(c), strengthOf(best)) || compareEventIds(c.eventId, best.eventId);
    if (d > 0 || (d === 0 && c.sourceId < best.sourceId)) best = c;
  }
  return best;
}

/** A command older than the claim it would replace (same source, same stream) is a replay: ignored. */
function isStale(existing: Claim | undefined, streamId: string, eventId: string): boolean {
  return existing !== undefined && existing.streamId === streamId && compareEventIds(eventId, existing.eventId) < 0;
}

/** Applies one command; returns the same array when nothing changed. */
export function foldCommand(claims: readonly Claim[], cmd: ClaimCommand): readonly Claim[] {
  const { source } = cmd;
  const i = claims.findIndex((c) => c.sourceId === source.id);
  const existing = i < 0 ? undefined : claims[i];
  if (isStale(existing, source.streamId, source.eventId)) return claims;
  // The same event again (a replay): nothing changes, and the caller can tell by identity.
  if (cmd.op === 'upsert' && existing?.streamId === source.streamId && existing.eventId === source.eventId && JSON.stringify(existing.facts) === JSON.stringify(cmd.facts)) return claims;
  if (cmd.op === 'retract') return i < 0 ? claims : claims.filter((_, j) => j !== i);
  const claim: Claim = { sourceId: source.id, streamId: source.streamId, eventId: source.eventId, at: eventTime(source.eventId), facts: cmd.facts };
  return i < 0 ? [...claims, claim] : claims.map((c, j) => (j === i ? claim : c));
}

export function foldCommands(claims: readonly Claim[], cmds: Iterable<ClaimCommand>): readonly Claim[] {
  let out = claims;
  for (const cmd of cmds) out = foldCommand(out, cmd);
  return out;
}
