// The writer's side of a resync (the stream-listener's anti-entropy with OpenCTI). A resync replays a
// stream's current state between `begin` and `end` markers, one copy per partition, ordered with
// every key's commands. Per partition, between the two, every claim the stream still asserts is
// asserted again; at `end`, the claims of that stream on that partition's keys that were not are
// stale (deleted or out of the stream's filters while the history was lost) and are retracted.
// Never retracts without having seen the `begin`: a writer that restarted inside an epoch lets it
// pass (safe: nothing wrongly retracted; the next resync repairs).
import type { ResyncMarker } from '@octi-defender/indicators';
import type { Claim } from './claims.ts';
import type { ClaimCommand } from './facts.ts';

export interface StaleClaim {
  readonly key: string;
  readonly sourceId: string;
  readonly streamId: string;
}

export class ResyncEpochs {
  /** Per `partition/stream`: the open epoch and the `key\0sourceId` asserted since its begin. */
  readonly #open = new Map<string, { epoch: string; asserted: Set<string> }>();

  /** A begin marker opens its epoch on its partition (a repeated begin of the same epoch changes nothing). */
  begin(partition: number, marker: ResyncMarker): void {
    const at = `${partition}/${marker.streamId}`;
    if (this.#open.get(at)?.epoch === marker.epoch) return;
    this.#open.set(at, { epoch: marker.epoch, asserted: new Set() });
  }

  /** Records an upsert read on `partition` (call for every command, replayed or live). */
  observe(partition: number, cmd: ClaimCommand): void {
    if (cmd.op !== 'upsert') return;
    this.#open.get(`${partition}/${cmd.source.streamId}`)?.asserted.add(`${cmd.key}\0${cmd.source.id}`);
  }

  /**
   * An end marker closes its epoch: the claims of that stream among `claimsOnPartition` (every key
   * of this partition with its claims) that were not asserted since the begin. Empty when the begin
   * of this epoch was not seen.
   */
  end(partition: number, marker: ResyncMarker, claimsOnPartition: Iterable<readonly [string, readonly Claim[]]>): StaleClaim[] {
    const at = `${partition}/${marker.streamId}`;
    const open = this.#open.get(at);
    if (open?.epoch !== marker.epoch) return [];
    this.#open.delete(at);
    const stale: StaleClaim[] = [];
    for (const [key, claims] of claimsOnPartition) {
      for (const c of claims) {
        if (c.streamId === marker.streamId && !open.asserted.has(`${key}\0${c.sourceId}`)) stale.push({ key, sourceId: c.sourceId, streamId: c.streamId });
      }
    }
    return stale;
  }
}

/** The claims of one key without the stale ones. */
export function withoutStale(key: string, claims: readonly Claim[], stale: readonly StaleClaim[]): readonly Claim[] {
  const gone = stale.filter((s) => s.key === key);
  return gone.length === 0 ? claims : claims.filter((c) => !gone.some((s) => s.sourceId === c.sourceId && s.streamId === c.streamId));
}
