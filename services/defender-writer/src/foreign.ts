// What Defender holds for creators other than this writer's application. Defender's import upserts
// on value + type + action whoever created the match: an import over another's indicator rewrites
// it (title, expiry) and answers with its id, which then looks like ours. So ownership is decided
// before any import, from who created each indicator (`createdBy` = our client id), never from a
// display field or an import's answer: a value + type another creator holds is held back.
import { parseIndicatorKey } from '@octi-defender/indicators';
import type { CallOptions, DefenderClient } from './defender/client.ts';
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

  static fromRecords(records: Iterable<DefenderIndicatorRecord>, clientId: string): ForeignIndex {
    const index = new ForeignIndex();
    for (const r of records) {
      if (createdByUs(r, clientId)) continue;
      index.#add(comparableKey(r.indicatorType, r.indicatorValue), { id: String(r.id), action: r.action, createdBy: r.createdBy ?? 'unknown' });
    }
    return index;
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
