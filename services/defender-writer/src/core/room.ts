// The room a writer has in Defender. Defender's limit of active indicators is per tenant and shared by
// every creator (portal users, Defender for Cloud Apps, other TI tools), so the writers' budget is not
// a constant: it is what the tenant leaves them, split by partition share.

interface RoomInput {
  /** MICROSOFT_DEFENDER_INTEL_MAX_INDICATORS: what the tenant's writers may hold together at most. */
  readonly budget: number;
  /** The tenant's limit in force: configured, or lower when Defender's refusals taught it. */
  readonly tenantLimit: number;
  /** Active indicators other creators hold, as last listed. */
  readonly foreign: number;
  /** This writer's share of the partitions (0..1). */
  readonly share: number;
}

/** The writers' room together: the smaller of the budget and what the others leave. */
export function tenantRoom(i: Omit<RoomInput, 'share'>): number {
  return Math.max(0, Math.min(i.budget, i.tenantLimit - i.foreign));
}

/** This writer's room: its partition share of the tenant's room, rounded down (shares never add up past it). */
export function roomFor(i: RoomInput): number {
  return Math.floor(tenantRoom(i) * i.share);
}

/**
 * The limit a cap refusal names ("The tenant reached its limit of 1500 active indicators."), or
 * undefined when the text carries no number (Defender documents no wording: the caller falls back on
 * what a listing shows).
 */
export function limitFromRefusal(reason: string): number | undefined {
  const m = /\blimit\b\D{0,40}?(\d[\d,.\s]*\d|\d)\s*(?:active\s+)?indicators?\b/i.exec(reason);
  if (!m?.[1]) return undefined;
  const n = Number(m[1].replace(/[,.\s]/g, ''));
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

export interface RefusalLesson {
  /** The limit in force before the listing. */
  readonly current: number;
  /** The limit a refusal named, if any. */
  readonly named: number | undefined;
  /** Indicators of every creator the listing shows. */
  readonly listed: number;
  /** Our indicators deleted between the refusal and the listing. */
  readonly deletedSince: number;
}

/**
 * What a cap refusal teaches once the tenant is listed: the limit is at most what it named, and at
 * most what the tenant held then (what the listing shows plus what we deleted since). Undefined when
 * that is no lower than the limit in force. `named`: Defender's own number decided it (kept until the
 * next start; an inferred one, possibly too low, is tried at the configured value again later).
 */
export function learnLimit(i: RefusalLesson): { limit: number; named: boolean } | undefined {
  const inferred = i.listed + i.deletedSince;
  const limit = Math.min(i.current, i.named ?? Infinity, inferred);
  if (limit >= i.current) return undefined;
  return { limit, named: i.named !== undefined && i.named <= inferred };
}
