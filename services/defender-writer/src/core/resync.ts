// The writer's side of a resync (the stream-listener's anti-entropy with OpenCTI). A resync replays a
// stream's current state between `begin` and `end` markers, one copy per partition, ordered with
// every key's commands. Per partition, between the two, every claim the stream still asserts is
// asserted again; at `end`, the claims of that stream on that partition's keys that were not are
// stale (deleted or out of the stream's filters while the history was lost) and are retracted.
// Never retracts without having seen the `begin`: a writer that restarted inside an epoch lets it
// pass (safe: nothing wrongly retracted; the next resync repairs).
import { COMMAND_SCHEMA_VERSION, decodeResyncMarker, type ResyncMarker } from '@octi-defender/indicators';
import { foldCommands, type Claim } from './claims.ts';
import type { ClaimCommand } from './facts.ts';

export interface StaleClaim {
  readonly key: string;
  readonly sourceId: string;
  readonly streamId: string;
  readonly eventId: string;
}

export class ResyncEpochs {
  /**
   * Per `partition/stream`: the epoch, the `key\0sourceId` asserted since its begin, and whether its
   * end was read. An ended epoch is kept until its batch commits (`settle`): a batch that fails is
   * read again, and its end must give the same retractions.
   */
  readonly #open = new Map<string, { epoch: string; asserted: Set<string>; ended: boolean }>();

  /** A begin marker opens its epoch on its partition (a repeated begin of the same epoch changes nothing). */
  begin(partition: number, marker: ResyncMarker): void {
    const at = `${partition}/${marker.streamId}`;
    const open = this.#open.get(at);
    if (open?.epoch === marker.epoch && !open.ended) return;
    this.#open.set(at, { epoch: marker.epoch, asserted: new Set(), ended: false });
  }

  /** The batch holding `partition`'s end markers committed: those epochs are over. */
  settle(partition: number): void {
    for (const [at, open] of this.#open) if (open.ended && at.startsWith(`${partition}/`)) this.#open.delete(at);
  }

  /** The partition is no longer this writer's: its epochs are its next owner's. */
  drop(partition: number): void {
    for (const at of this.#open.keys()) if (at.startsWith(`${partition}/`)) this.#open.delete(at);
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
    open.ended = true;
    const stale: StaleClaim[] = [];
    for (const [key, claims] of claimsOnPartition) {
      for (const c of claims) {
        if (c.streamId === marker.streamId && !open.asserted.has(`${key}\0${c.sourceId}`)) stale.push({ key, sourceId: c.sourceId, streamId: c.streamId, eventId: c.eventId });
      }
    }
    return stale;
  }
}

/**
 * The writer's entry point: `marker` for a record with the header `op: resync`, `observe` for every
 * decoded command. At an `end`, the stale claims come back as retract commands to apply in the
 * marker's place (after the batch's earlier commands, which the claims are folded with).
 */
export class ResyncHandler {
  readonly #epochs = new ResyncEpochs();
  readonly #claimsOf: (key: string) => readonly Claim[];
  readonly #keysOf: (partition: number) => Iterable<string>;

  constructor(state: { claimsOf: (key: string) => readonly Claim[]; keysOf: (partition: number) => Iterable<string> }) {
    this.#claimsOf = state.claimsOf;
    this.#keysOf = state.keysOf;
  }

  observe(partition: number, cmd: ClaimCommand): void {
    this.#epochs.observe(partition, cmd);
  }

  settle(partition: number): void {
    this.#epochs.settle(partition);
  }

  drop(partition: number): void {
    this.#epochs.drop(partition);
  }

  marker(partition: number, value: Buffer, earlier: readonly ClaimCommand[]): { ok: true; marker: ResyncMarker; retractions: ClaimCommand[] } | { ok: false; error: string } {
    const d = decodeResyncMarker(value);
    if (!d.ok) return { ok: false, error: d.error.message };
    const marker = d.value;
    if (marker.phase === 'begin') {
      this.#epochs.begin(partition, marker);
      return { ok: true, marker, retractions: [] };
    }
    const pending = new Map<string, ClaimCommand[]>();
    for (const c of earlier) pending.set(c.key, [...(pending.get(c.key) ?? []), c]);
    const keys = new Set([...this.#keysOf(partition), ...pending.keys()]);
    const claims = [...keys].map((key) => [key, foldCommands(this.#claimsOf(key), pending.get(key) ?? [])] as const);
    const stale = this.#epochs.end(partition, marker, claims);
    return { ok: true, marker, retractions: stale.map((s) => retraction(s)) };
  }
}

/** A retract of one stale claim, with the claim's own event id so the fold does not take it for a replay. */
function retraction(s: StaleClaim): ClaimCommand {
  return {
    schemaVersion: COMMAND_SCHEMA_VERSION,
    op: 'retract',
    key: s.key,
    source: { id: s.sourceId, standardId: s.sourceId, entityType: 'resync', streamId: s.streamId, eventId: s.eventId, eventName: 'delete' },
    reason: 'left_filter',
  };
}
