// What a writer's claims become once the retractions of a resync's stale claims are applied: the
// tests' model of the writer, for the writer's and the listener's resync tests.
import type { Claim } from '../src/core/claims.ts';
import type { StaleClaim } from '../src/core/resync.ts';

/** The claims of one key without the stale ones. */
export function withoutStale(key: string, claims: readonly Claim[], stale: readonly StaleClaim[]): readonly Claim[] {
  const gone = stale.filter((s) => s.key === key);
  return gone.length === 0 ? claims : claims.filter((c) => !gone.some((s) => s.sourceId === c.sourceId && s.streamId === c.streamId));
}
