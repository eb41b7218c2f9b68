// What Defender holds for creators other than this writer's application. Defender's import upserts
// on value + type + action whoever created the match: an import over another's indicator rewrites
// it (title, expiry) and answers with its id, which then looks like ours. So ownership is decided
// before any import, from who created each indicator (`createdBy` = our client id), never from a
// display field or an import's answer: a value + type another creator holds is held back.
import { parseIndicatorKey } from '@octi-defender/indicators';
import { odataString, type CallOptions, type DefenderClient } from './defender/client.ts';
import type { DefenderIndicatorRecord } from './defender/model.ts';
import { comparableCanonical, comparableKey } from './defender/values.ts';

/** Another creator's indicator, as listed. */
export interface ForeignIndicator {
  readonly id: string;
  readonly action: string;
  readonly createdBy: string;
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
 * Built from a listing of the whole tenant; `hold` adds what an import revealed since.
 */
export class ForeignIndex {
  readonly #byKey = new Map<string, ForeignIndicator[]>();
  readonly #ids = new Set<string>();
  /** The latest creation time listed (Defender's clock, ms), -Infinity when none. */
  #newest = -Infinity;

  static fromRecords(records: Iterable<DefenderIndicatorRecord>, clientId: string): ForeignIndex {
    const index = new ForeignIndex();
    index.merge(records, clientId);
    return index;
  }

  /** Adds the other creators' records of a listing (a whole one, or what was created since a time); returns how many were new. */
  merge(records: Iterable<DefenderIndicatorRecord>, clientId: string): number {
    const before = this.#ids.size;
    for (const r of records) {
      if (createdByUs(r, clientId)) continue;
      this.#add(comparableKey(r.indicatorType, r.indicatorValue), { id: String(r.id), action: r.action, createdBy: r.createdBy ?? 'unknown' });
      const created = typeof r.creationTimeDateTimeUtc === 'string' ? Date.parse(r.creationTimeDateTimeUtc) : NaN;
      if (created > this.#newest) this.#newest = created;
    }
    return this.#ids.size - before;
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

  /** Indicators other creators hold: what they take of the tenant's limit. */
  get indicators(): number {
    return this.#ids.size;
  }

  /** The latest creation time of another creator's indicator listed (Defender's clock), undefined when none. */
  get newestCreation(): number | undefined {
    return Number.isFinite(this.#newest) ? this.#newest : undefined;
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
export async function listTenant(client: DefenderClient, clientId: string, call: CallOptions = {}): Promise<TenantListing> {
  const all: DefenderIndicatorRecord[] = [];
  for await (const page of client.listAll({}, call)) all.push(...page);
  const creators = new Map<string, string>();
  for (const r of all) creators.set(String(r.id), r.createdBy ?? 'unknown');
  return { ours: all.filter((r) => createdByUs(r, clientId)), foreign: ForeignIndex.fromRecords(all, clientId), creators, listed: all.length };
}

/**
 * Listings of what other creators added lately overlap the last one by this much: Defender's clock
 * stamps `creationTimeDateTimeUtc` at create time, but a create may show in listings a little later
 * than one stamped after it (undocumented; the overlap costs only the few records it repeats).
 */
export const FOREIGN_LISTING_OVERLAP_MS = 120_000;

/**
 * Other creators' indicators created since the latest one `index` knows, less the overlap (all of
 * them when it knows none): `createdBy ne <us> and creationTimeDateTimeUtc ge <t>`, so the answer
 * holds what others added lately, not our own imports, and is one call as a rule. Merged into
 * `index`; returns how many were new.
 */
export async function listForeignSince(client: DefenderClient, clientId: string, index: ForeignIndex, call: CallOptions = {}): Promise<number> {
  const newest = index.newestCreation;
  const clauses = [`createdBy ne ${odataString(clientId)}`];
  if (newest !== undefined) clauses.push(`creationTimeDateTimeUtc ge ${new Date(newest - FOREIGN_LISTING_OVERLAP_MS).toISOString()}`);
  let added = 0;
  for await (const page of client.listAll({ filter: clauses.join(' and ') }, call)) added += index.merge(page, clientId);
  return added;
}
