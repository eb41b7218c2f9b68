// Planning one batch: fold the commands into claims, compute each touched key's desired indicator,
// apply the cap, and diff against what Defender last accepted. The result says which calls to make;
// `applyOutcomes` turns their results into the next per-key state (what the changelog stores).
import { foldCommand, type Claim } from './claims.ts';
import type { CapIndex } from '../state/cap.ts';
import type { DefenderIndicator, ImportFailureCategory, ImportOutcome } from '../defender/model.ts';
import { desiredFor, type Desired } from './desired.ts';
import type { ClaimCommand } from './facts.ts';
import type { DropReason, Policy } from './policy.ts';

/** Defender's per-call maximum for import and BatchDelete. */
export const MAX_BATCH = 500;

/** What Defender holds for a key, as confirmed by the last successful call. */
interface AppliedIndicator {
  readonly id: string;
  readonly identity: string;
  readonly hash: string;
  readonly expiresAt: number;
}

/** The per-key state kept in the changelog. */
export interface KeyState {
  readonly claims: readonly Claim[];
  readonly applied?: AppliedIndicator | undefined;
  /** Hash of a version Defender rejected for good: not sent again until something changes. */
  readonly rejectedHash?: string | undefined;
  /** Ids of superseded indicators (old action) whose delete has not succeeded yet. */
  readonly staleIds?: readonly string[] | undefined;
}

/**
 * Besides the policy's reasons: `rejected` (Defender refused this version for good) and
 * `foreign-indicator` (another creator holds this value + type in Defender: never imported over).
 */
type PlanDropReason = DropReason | 'no-claims' | 'rejected' | 'foreign-indicator';

/** What Defender holds for other creators (a `ForeignIndex`). */
export interface ForeignView {
  holds(key: string): boolean;
  isForeignId(id: string): boolean;
}

interface PlannedImport {
  readonly key: string;
  readonly indicator: DefenderIndicator;
  readonly hash: string;
  readonly identity: string;
  readonly expiresAt: number;
  /** The id of the indicator with the previous identity, deleted once this import succeeded. */
  readonly replaces?: string | undefined;
}

export interface PlannedDelete {
  readonly key: string;
  readonly id: string;
  readonly reason: PlanDropReason | 'replaced';
}

export interface Plan {
  /** Every key examined: touched by a command, moved by the cap, or pending from an earlier batch. */
  readonly keys: readonly string[];
  /** Keys leaving Defender; run before the imports so the cap has room. */
  readonly deletes: readonly (readonly PlannedDelete[])[];
  readonly imports: readonly (readonly PlannedImport[])[];
  /** Superseded ids left over from earlier batches; replacements made now come from `replacementDeletes`. */
  readonly staleDeletes: readonly PlannedDelete[];
  readonly unchanged: readonly string[];
  /**
   * Keys whose applied indicator is no longer ours to delete: expired (Defender already deleted it)
   * or created by someone else (never deleted). No call; the state forgets it.
   */
  readonly gone: readonly string[];
  /** Superseded ids that turned out to be another creator's: forgotten without a call. */
  readonly released: readonly string[];
  readonly dropped: readonly { readonly key: string; readonly reason: PlanDropReason }[];
  /** The claims after folding the batch's commands, for the touched keys. */
  readonly claims: ReadonlyMap<string, readonly Claim[]>;
  /** Pending or cap-moved keys left for a later plan by `maxKeys`. */
  readonly remaining: number;
}

interface PlanInput {
  readonly commands: Iterable<ClaimCommand>;
  /** The state of any key of the writer's partitions. */
  readonly lookup: (key: string) => KeyState | undefined;
  readonly policy: Policy;
  readonly cap: CapIndex;
  readonly now: number;
  /** Keys an earlier `applyOutcomes` reported as not yet in sync. */
  readonly pending?: Iterable<string>;
  readonly chunkSize?: number;
  /**
   * Examine only the commands' keys, not the keys the cap moved (catching up: the sync afterwards
   * plans the moves once, instead of every batch planning the growing set of moved keys).
   */
  readonly touchedOnly?: boolean;
  /** Other creators' indicators: their keys are held back, their ids never deleted nor kept as ours. */
  readonly foreign?: ForeignView | undefined;
  /**
   * Examine at most this many keys besides the commands' own (bounds the memory and the event-loop
   * time of a plan after a restore or a catch-up); the rest stay pending or moved for the next plan.
   */
  readonly maxKeys?: number;
}

export function chunk<T>(items: readonly T[], size = MAX_BATCH): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function planBatch(input: PlanInput): Plan {
  const { lookup, policy, cap, now } = input;
  const foreignId = (id: string): boolean => input.foreign?.isForeignId(id) ?? false;
  // A key is held back when another creator holds its value + type, or when the id we stored for it is theirs.
  const held = (key: string, state: KeyState | undefined): boolean => (input.foreign?.holds(key) ?? false) || (state?.applied !== undefined && foreignId(state.applied.id));
  const claims = new Map<string, readonly Claim[]>();
  // Keys an operator redrove (`octi-defender dlq redrive`): a version Defender refused is sent again.
  const redriven = new Set<string>();
  for (const cmd of input.commands) {
    claims.set(cmd.key, foldCommand(claims.get(cmd.key) ?? lookup(cmd.key)?.claims ?? [], cmd));
    if (cmd.redrive !== undefined) redriven.add(cmd.key);
  }
  const refusedHash = (key: string, state: KeyState | undefined): string | undefined => (redriven.has(key) ? undefined : state?.rejectedHash);

  const desired = new Map<string, Desired>();
  const track = (key: string, d: Desired): void => {
    desired.set(key, d);
    const state = lookup(key);
    if (d.present && d.hash !== refusedHash(key, state) && !held(key, state)) cap.set(key, d.strength);
    else cap.delete(key);
  };
  for (const [key, c] of claims) track(key, desiredFor(c, policy, now));
  const limit = input.maxKeys ?? Infinity;
  let remaining = 0;
  for (const key of input.pending ?? []) {
    if (desired.has(key)) continue;
    if (desired.size >= limit) remaining++;
    else track(key, desiredFor(lookup(key)?.claims ?? [], policy, now));
  }
  const moved = cap.settle();
  const keys = new Set(desired.keys());
  if (!input.touchedOnly) {
    const extra = [...moved].filter((k) => !keys.has(k));
    // Over the limit, evictions go first: Defender has room before anything new is imported.
    if (keys.size + extra.length > limit) extra.sort((a, b) => Number(cap.isAdmitted(a)) - Number(cap.isAdmitted(b)));
    for (const k of extra) {
      if (keys.size >= limit) remaining++;
      else keys.add(k);
    }
  }

  const deletes: PlannedDelete[] = [];
  const imports: PlannedImport[] = [];
  const staleDeletes: PlannedDelete[] = [];
  const unchanged: string[] = [];
  const gone: string[] = [];
  const released: string[] = [];
  const dropped: { key: string; reason: PlanDropReason }[] = [];
  for (const key of keys) {
    const state = lookup(key);
    let d = desired.get(key);
    if (!d) {
      // Moved by the cap only: its claims did not change, but time may have expired them.
      d = desiredFor(state?.claims ?? [], policy, now);
      if (!d.present || held(key, state)) cap.delete(key);
    }
    for (const id of state?.staleIds ?? []) {
      if (foreignId(id)) released.push(id);
      else staleDeletes.push({ key, id, reason: 'replaced' });
    }
    const applied = state?.applied;
    const reason: PlanDropReason | undefined = !d.present
      ? d.reason
      : held(key, state)
      ? 'foreign-indicator'
      : d.hash === refusedHash(key, state)
      ? 'rejected'
      : cap.isAdmitted(key)
      ? undefined
      : 'over-cap';
    if (!d.present || reason !== undefined) {
      const why = reason ?? (d.present ? 'no-claims' : d.reason);
      if (why !== 'no-claims') dropped.push({ key, reason: why });
      // Our own indicator of a held key is deleted too: the other creator's decision on the value stands.
      if (applied && applied.expiresAt > now && !foreignId(applied.id)) deletes.push({ key, id: applied.id, reason: why });
      else if (applied) gone.push(key);
      else if (!state?.staleIds?.length) cap.confirm(key);
      continue;
    }
    if (applied?.hash === d.hash) {
      unchanged.push(key);
      if (!state?.staleIds?.length) cap.confirm(key);
      continue;
    }
    imports.push({
      key,
      indicator: d.indicator,
      hash: d.hash,
      identity: d.identity,
      expiresAt: d.expiresAt,
      ...(applied && applied.identity !== d.identity && { replaces: applied.id }),
    });
  }
  const size = input.chunkSize ?? MAX_BATCH;
  return { keys: [...keys], deletes: chunk(deletes, size), imports: chunk(imports, size), staleDeletes, unchanged, gone, released, dropped, claims, remaining };
}

/**
 * Whether the plan's deletes must go before its imports. They make room: an import that creates an
 * indicator (a new key, or a new identity whose old id goes only after it) needs a free place under
 * the cap. When what Defender holds for us (`held` indicators) plus every indicator the imports may
 * create fits in `capacity`, the deletes can wait for the imports and share their BatchDelete calls
 * with the replaced ids (one round of deletes instead of two).
 */
export function deletesFirst(plan: Plan, held: number, capacity: number, lookup: (key: string) => KeyState | undefined): boolean {
  if (plan.deletes.length === 0) return false;
  let creates = 0;
  for (const c of plan.imports) for (const p of c) if (p.replaces !== undefined || !lookup(p.key)?.applied) creates++;
  return held + plan.staleDeletes.length + creates > capacity;
}

/**
 * The ids of identity changes (an action flip) to delete before their imports, when the room is
 * still short after the deletes that go first: in a full room the new indicator cannot be created
 * while the old one holds the last place, and Defender would refuse it at the tenant's limit each
 * time. The value is unprotected from that delete until its import (one call). Empty otherwise:
 * the old indicator stays until its replacement is accepted.
 */
export function replacedFirst(plan: Plan, held: number, capacity: number, deletesGoFirst: boolean, lookup: (key: string) => KeyState | undefined): PlannedDelete[] {
  let creates = 0;
  const replaced: PlannedDelete[] = [];
  for (const c of plan.imports) {
    for (const p of c) {
      if (p.replaces !== undefined) replaced.push({ key: p.key, id: p.replaces, reason: 'replaced' });
      if (p.replaces !== undefined || !lookup(p.key)?.applied) creates++;
    }
  }
  if (replaced.length === 0) return [];
  let freed = 0;
  if (deletesGoFirst) { for (const c of plan.deletes) freed += c.length; }
  return held - freed + plan.staleDeletes.length + creates > capacity ? replaced : [];
}

/** The superseded id an accepted import really replaced: none when Defender updated it in place (same id back). */
function replacedBy(p: PlannedImport, r: ImportOutcome | undefined): string | undefined {
  return p.replaces !== undefined && r?.ok && r.id !== p.replaces ? p.replaces : undefined;
}

/**
 * The ids to delete after the imports: each superseded id whose replacement was accepted under
 * another id (a failed replacement keeps the old indicator; an identity change Defender applied in
 * place, e.g. only the RBAC groups, answers with the same id, which is the live indicator), plus the
 * leftovers of earlier batches.
 */
export function replacementDeletes(plan: Plan, imported: ReadonlyMap<string, ImportOutcome>, size = MAX_BATCH): PlannedDelete[][] {
  const out: PlannedDelete[] = [...plan.staleDeletes];
  for (const c of plan.imports) {
    for (const p of c) {
      const id = replacedBy(p, imported.get(p.key));
      if (id !== undefined) out.push({ key: p.key, id, reason: 'replaced' });
    }
  }
  return chunk(out, size);
}

interface Outcomes {
  /** Per planned import key; a missing key means the call did not happen (transient). */
  readonly imported: ReadonlyMap<string, ImportOutcome>;
  /** Ids Defender no longer holds (deleted now, or already gone). */
  readonly deletedIds: ReadonlySet<string>;
}

interface Applied {
  /** The next state per examined key (the same object when nothing changed); undefined = forget the key (a changelog tombstone). */
  readonly states: ReadonlyMap<string, KeyState | undefined>;
  /** Permanent rejections, for the DLQ. */
  readonly rejected: readonly { readonly key: string; readonly reason: string; readonly category: ImportFailureCategory }[];
  /** Keys not yet in sync (transient failures, calls not made): pass them as `pending` next time. */
  readonly pending: readonly string[];
}

export function applyOutcomes(plan: Plan, outcomes: Outcomes, lookup: (key: string) => KeyState | undefined, cap: CapIndex): Applied {
  const imports = new Map<string, PlannedImport>();
  for (const c of plan.imports) for (const p of c) imports.set(p.key, p);
  const deletes = new Map<string, PlannedDelete>();
  for (const c of plan.deletes) for (const p of c) deletes.set(p.key, p);

  const gone = new Set(plan.gone);
  const deletedIds = plan.released.length === 0 ? outcomes.deletedIds : new Set([...outcomes.deletedIds, ...plan.released]);
  const states = new Map<string, KeyState | undefined>();
  const rejected: { key: string; reason: string; category: ImportFailureCategory }[] = [];
  const pending: string[] = [];
  for (const key of plan.keys) {
    const before = lookup(key);
    const claims = plan.claims.get(key) ?? before?.claims ?? [];
    let applied = before?.applied;
    let rejectedHash = before?.rejectedHash;
    let staleIds = (before?.staleIds ?? []).filter((id) => !deletedIds.has(id));
    let synced = true;
    const imp = imports.get(key);
    const del = deletes.get(key);
    if (imp) {
      const r = outcomes.imported.get(key);
      if (r?.ok) {
        const replaced = replacedBy(imp, r);
        if (replaced !== undefined && !deletedIds.has(replaced)) staleIds = [...staleIds, replaced];
        applied = { id: r.id, identity: imp.identity, hash: imp.hash, expiresAt: imp.expiresAt };
        rejectedHash = undefined;
      } else {
        if (r && r.permanent) {
          rejected.push({ key, reason: r.reason, category: r.category });
          rejectedHash = imp.hash;
          cap.delete(key);
        } else {
          synced = false;
          // Not sent yet (a transient failure, or folded until the quota allows): a redriven version
          // Defender refused before stays wanted, so the pending re-plan sends it.
          if (rejectedHash === imp.hash) rejectedHash = undefined;
        }
        // The old indicator was deleted before its replacement (`replacedFirst`): Defender holds neither.
        if (imp.replaces !== undefined && applied?.id === imp.replaces && deletedIds.has(imp.replaces)) applied = undefined;
      }
    } else if (del) {
      if (deletedIds.has(del.id)) applied = undefined;
      else synced = false;
    } else if (gone.has(key)) {
      applied = undefined;
    }
    if (staleIds.length > 0) synced = false;
    if (synced) cap.confirm(key);
    else pending.push(key);
    const empty = claims.length === 0 && !applied && staleIds.length === 0;
    const same = before !== undefined &&
      claims === before.claims &&
      applied === before.applied &&
      rejectedHash === before.rejectedHash &&
      staleIds.length === (before.staleIds?.length ?? 0) &&
      staleIds.every((id, i) => id === before.staleIds?.[i]);
    states.set(
      key,
      empty
        ? undefined
        : same
        ? before
        : {
          claims,
          ...(applied && { applied }),
          ...(rejectedHash !== undefined && { rejectedHash }),
          ...(staleIds.length > 0 && { staleIds }),
        },
    );
  }
  return { states, rejected, pending };
}
