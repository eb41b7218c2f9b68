// What Defender holds for creators other than this writer's application. Defender's import upserts
// on value + type + action whoever created the match: an import over another's indicator rewrites
// it (title, expiry) and answers with its id, which then looks like ours. So ownership is decided
// before any import, from who created each indicator (`createdBy` = our client id), never from a
// display field or an import's answer: a value + type another creator holds is held back.
import { parseIndicatorKey } from '@octi-defender/indicators';
import { odataString, type CallOptions, type DefenderClient } from './client.ts';
import type { DefenderIndicatorRecord } from './model.ts';
import { comparableCanonical, comparableKey } from './values.ts';

/** Another creator's indicator, as listed. */
interface ForeignIndicator {
  readonly id: string;
  readonly action: string;
  readonly createdBy: string;
}

/** When Defender created the record (its clock, ms); NaN when it does not say. */
function createdAt(r: DefenderIndicatorRecord): number {
  return typeof r.creationTimeDateTimeUtc === 'string' ? Date.parse(r.creationTimeDateTimeUtc) : NaN;
}

/** Created by the application whose client id is `clientId` (compared case-insensitively: a GUID). */
export function createdByUs(r: DefenderIndicatorRecord, clientId: string): boolean {
  return typeof r.createdBy === 'string' && r.createdBy.toLowerCase() === clientId.toLowerCase();
}

/** Keys are canonical by construction (the listener's `indicatorKey`), so no parsing here: plans ask for every key. */
function comparableOf(key: string): string {
  const k = parseIndicatorKey(key);
  return k ? comparableCanonical(k.type, k.value) : key;
}

/**
 * The values + types other creators hold, by their comparable form (`comparableKey`), and their ids.
 * Built from a listing of the whole tenant (`fromRecords`); looks at what others added since
 * (`listForeignSince`) and imports that revealed another's id (`hold`) add to it.
 */
export class ForeignIndex {
  readonly #byKey = new Map<string, ForeignIndicator[]>();
  readonly #ids = new Set<string>();
  /** Other creators' indicators in the listing of the whole tenant this index was built from. */
  #listed = 0;
  /**
   * Where the next look starts, on Defender's clock: an estimate of Defender's time at the last
   * listing or look (the newest creation seen there, then advanced by the time elapsed here), so a
   * burst of creations falls out of the looks once the overlap has passed. Never ahead of Defender's
   * clock as long as this clock runs no faster than Defender's.
   */
  #cursor = -Infinity;
  /** When `#cursor` was estimated (this process's clock, ms). */
  #cursorAt = 0;

  /** `now`: this process's clock when the listing was made. */
  static fromRecords(records: Iterable<DefenderIndicatorRecord>, clientId: string, now = Date.now()): ForeignIndex {
    const index = new ForeignIndex();
    let newest = -Infinity;
    for (const r of records) {
      const created = createdAt(r);
      if (created > newest) newest = created;
      if (!createdByUs(r, clientId)) index.#add(comparableKey(r.indicatorType, r.indicatorValue), { id: String(r.id), action: r.action, createdBy: r.createdBy ?? 'unknown' });
    }
    index.#listed = index.#ids.size;
    index.#cursor = newest;
    index.#cursorAt = now;
    return index;
  }

  /** Adds other creators' records of a look; returns how many were new. */
  merge(records: Iterable<DefenderIndicatorRecord>, clientId: string): number {
    const before = this.#ids.size;
    for (const r of records) {
      if (!createdByUs(r, clientId)) this.#add(comparableKey(r.indicatorType, r.indicatorValue), { id: String(r.id), action: r.action, createdBy: r.createdBy ?? 'unknown' });
    }
    return this.#ids.size - before;
  }

  /** Defender's time now, as far as this index can tell (undefined: an empty tenant was listed). */
  defenderNow(now: number): number | undefined {
    return Number.isFinite(this.#cursor) ? this.#cursor + Math.max(0, now - this.#cursorAt) : undefined;
  }

  /** A look that started at `now` with `defenderNow(now)` = `estimate` completed. */
  looked(estimate: number, now: number): void {
    this.#cursor = estimate;
    this.#cursorAt = now;
  }

  #add(comparable: string, f: ForeignIndicator): void {
    const list = this.#byKey.get(comparable) ?? [];
    if (!list.some((x) => x.id === f.id)) list.push(f);
    this.#byKey.set(comparable, list);
    this.#ids.add(f.id);
  }

  /** Another creator's indicators on this key's value + type (empty: none known). */
  holders(key: string): readonly ForeignIndicator[] {
    return this.#byKey.size === 0 ? [] : (this.#byKey.get(comparableOf(key)) ?? []);
  }

  holds(key: string): boolean {
    return this.#byKey.size > 0 && this.#byKey.has(comparableOf(key));
  }

  isForeignId(id: string): boolean {
    return this.#ids.has(id);
  }

  /** An import of `key` answered with the id of another's indicator: the key is theirs from now on. */
  hold(key: string, f: ForeignIndicator): void {
    this.#add(comparableOf(key), f);
  }

  /** Values + types held by other creators. */
  get size(): number {
    return this.#byKey.size;
  }

  /**
   * Other creators' indicators in the last listing of the whole tenant: their part of the limit.
   * What looks add is not counted: a look sees creations, never deletions, so counting them would
   * shrink the room for indicators that may be gone (the next listing counts them, and a refusal at
   * the limit brings that listing forward).
   */
  get listedIndicators(): number {
    return this.#listed;
  }
}

/** One listing of the whole tenant: our records and the index of everyone else's. */
export interface TenantListing {
  readonly ours: readonly DefenderIndicatorRecord[];
  readonly foreign: ForeignIndex;
  /** Every listed record by id, with its creator (the reconciler checks the ids our states hold). */
  readonly creators: ReadonlyMap<string, string>;
  readonly listed: number;
}

/**
 * Lists every active indicator of the tenant (at most 15,000: two calls with `$top` 10,000, within
 * the list quota of 100/min and 1,500/h). Needs `Ti.ReadWrite.All` (with `Ti.ReadWrite` an app sees
 * only its own indicators, and nothing here could protect the others').
 */
/** `call`: the caller's cancellation (the writer's lease). */
export async function listTenant(client: DefenderClient, clientId: string, call: CallOptions = {}, now = Date.now()): Promise<TenantListing> {
  const all: DefenderIndicatorRecord[] = [];
  for await (const page of client.listAll({}, call)) all.push(...page);
  const creators = new Map<string, string>();
  for (const r of all) creators.set(String(r.id), r.createdBy ?? 'unknown');
  return { ours: all.filter((r) => createdByUs(r, clientId)), foreign: ForeignIndex.fromRecords(all, clientId, now), creators, listed: all.length };
}

/**
 * Looks start this much before Defender's estimated time at the previous look: Defender stamps
 * `creationTimeDateTimeUtc` at create time, but a create may show in listings a little after one
 * stamped later (undocumented), and the estimate assumes this clock runs no faster than Defender's.
 */
const FOREIGN_LISTING_OVERLAP_MS = 120_000;

/**
 * What other creators created since the previous look (less the overlap): one filtered listing,
 * merged into `index`; returns how many indicators were new. `createdBy ne <us>` keeps our own
 * imports out of the answer; Defender documents `createdBy` as filterable but not the `ne` operator,
 * so with `byCreator` false (after a 400) only the time is filtered and ours are dropped here.
 * `now`: this process's clock when the look starts.
 */
export async function listForeignSince(client: DefenderClient, clientId: string, index: ForeignIndex, now: number, opts: { readonly byCreator: boolean }, call: CallOptions = {}): Promise<number> {
  const estimate = index.defenderNow(now);
  const clauses: string[] = [];
  if (opts.byCreator) clauses.push(`createdBy ne ${odataString(clientId)}`);
  if (estimate !== undefined) clauses.push(`creationTimeDateTimeUtc ge ${new Date(estimate - FOREIGN_LISTING_OVERLAP_MS).toISOString()}`);
  let added = 0;
  let newest = estimate ?? -Infinity;
  for await (const page of client.listAll(clauses.length > 0 ? { filter: clauses.join(' and ') } : {}, call)) {
    added += index.merge(page, clientId);
    for (const r of page) newest = Math.max(newest, createdAt(r) || -Infinity);
  }
  if (Number.isFinite(newest)) index.looked(newest, now);
  return added;
}
