// Drift between Defender and the state of this writer's partitions, from one listing of the whole
// tenant (`listTenant`). Only indicators this writer's application created (application AND
// createdBy = our client id) whose key belongs to one of its partitions are ever deleted; an id a
// state holds that the listing shows created by someone else is `adopted`: the state stops owning
// it, and nothing deletes it.
import { indicatorKey } from '@octi-defender/indicators';
import { DRY_RUN_ID, type DefenderIndicatorRecord } from '../defender/model.ts';
import { createdByUs, type TenantListing } from '../defender/foreign.ts';
import type { KeyState } from './plan.ts';

interface OwnedView {
  /** The commands partition of a key. */
  readonly partitionOf: (key: string) => number;
  ownedPartitions(): ReadonlySet<number>;
  states(): Iterable<readonly [string, KeyState]>;
}

export interface Drift {
  /** Keys whose state says Defender holds `applied.id`, which Defender does not list. */
  readonly missing: readonly string[];
  /** Our indicators on our partitions that no state claims. */
  readonly orphaned: readonly { readonly id: string; readonly key: string }[];
  /** Keys whose state holds an id that another creator's indicator has (an import upserted over it). */
  readonly adopted: readonly { readonly key: string; readonly id: string; readonly createdBy: string }[];
  readonly listed: number;
  /** Values + types other creators hold: never touched, held back from our imports. */
  readonly foreign: number;
}

function keyOfRecord(r: DefenderIndicatorRecord): string {
  return `${r.indicatorType}:${r.indicatorValue}`;
}

/** Ours to delete when no state knows it: created by our client id under our application name. */
function isOurs(r: DefenderIndicatorRecord, application: string, clientId: string): boolean {
  return r.application === application && createdByUs(r, clientId);
}

export function findDrift(listing: TenantListing, who: { application: string; clientId: string }, view: OwnedView, now: number): Drift {
  const owned = view.ownedPartitions();
  const ourIds = new Set(listing.ours.map((r) => String(r.id)));
  const known = new Set<string>();
  const missing: string[] = [];
  const adopted: { key: string; id: string; createdBy: string }[] = [];
  for (const [key, s] of view.states()) {
    if (s.applied) known.add(s.applied.id);
    for (const id of s.staleIds ?? []) known.add(id);
    const a = s.applied;
    if (!a || a.id === DRY_RUN_ID) continue;
    const creator = ourIds.has(a.id) ? undefined : listing.creators.get(a.id);
    if (creator !== undefined) adopted.push({ key, id: a.id, createdBy: creator });
    else if (a.expiresAt > now && !ourIds.has(a.id)) missing.push(key);
  }
  const orphaned: { id: string; key: string }[] = [];
  for (const r of listing.ours) {
    if (!isOurs(r, who.application, who.clientId)) continue;
    const key = keyOfRecord(r);
    // Our keys are canonical values: a value Defender spells otherwise may hash to another writer's
    // partition, whose state (not ours) knows its id; such a record is never treated as an orphan here.
    const canonical = indicatorKey(r.indicatorType, r.indicatorValue);
    if (!canonical.ok || canonical.value.key !== key) continue;
    if (!owned.has(view.partitionOf(key))) continue;
    if (!known.has(String(r.id))) orphaned.push({ id: String(r.id), key });
  }
  return { missing, orphaned, adopted, listed: listing.listed, foreign: listing.foreign.size };
}
