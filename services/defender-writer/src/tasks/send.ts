// Sending a plan: its Defender calls, in the order the room needs, each import chunk after a look at
// what other creators added since the last one. What the calls achieved is returned; nothing here
// changes the local state.
import type { Logger } from '@octi-defender/platform';
import type { WriterConfig } from '../config.ts';
import type { CallOptions, DefenderClient } from '../defender/client.ts';
import { blocksBatch, DefenderCallCancelledError, DefenderClientClosedError } from '../defender/errors.ts';
import type { ImportOutcome } from '../defender/model.ts';
import { chunk, deletesFirst, replacedFirst, replacementDeletes, type KeyState, type Plan, type PlannedDelete } from '../core/plan.ts';
import type { KeyTracking } from '../state/key-tracking.ts';
import type { TenantView } from './tenant-view.ts';

interface RefusedDelete {
  readonly key: string;
  readonly id: string;
  readonly reason: string;
}

/** What the Defender calls of a plan achieved. */
export interface Sent {
  readonly imported: ReadonlyMap<string, ImportOutcome>;
  readonly deletedIds: ReadonlySet<string>;
  readonly refusedDeletes: readonly RefusedDelete[];
}

export const NOTHING_SENT: Sent = { imported: new Map(), deletedIds: new Set(), refusedDeletes: [] };

interface SendDeps {
  readonly cfg: Pick<WriterConfig, 'itemMaxAttempts'>;
  readonly client: DefenderClient;
  readonly tenant: TenantView;
  readonly keys: KeyTracking;
  readonly logger: Logger;
  readonly lookup: (key: string) => KeyState | undefined;
  /** Our indicators in Defender now, and the room. */
  readonly held: () => number;
  readonly capacity: () => number;
  /** Some keys were left out of an import (another creator added them): a round soon holds them back. */
  readonly leftOut: () => void;
}

/**
 * The plan's Defender calls; undefined when they failed transiently (nothing to commit), `lost` when
 * the lease ended. `sendAll`: every import chunk goes, else only full ones (more rounds follow at
 * once: their keys fill this round's last, partial chunk).
 */
export async function sendPlan(d: SendDeps, plan: Plan, call: CallOptions): Promise<Sent | 'lost' | undefined> {
  const { client, tenant, logger } = d;
  const sent = { imported: new Map<string, ImportOutcome>(), deletedIds: new Set<string>(), refusedDeletes: [] as RefusedDelete[] };
  // An id Defender refuses to delete on its own is refused every time: it counts as gone (else it
  // would be planned again in every batch) and its key is dead-lettered with Defender's reason.
  // Another creator's id is never sent (the plan does not plan it; this is the last guard).
  const remove = async (c: readonly PlannedDelete[]): Promise<void> => {
    const ids = c.filter((x) => !tenant.foreign?.isForeignId(x.id)).map((x) => x.id);
    if (ids.length < c.length) logger.warn({ skipped: c.length - ids.length }, 'another creator’s ids left out of a BatchDelete');
    const { rejected } = await client.batchDelete(ids, call);
    for (const x of c) sent.deletedIds.add(x.id);
    tenant.deleted(ids.length - rejected.length);
    for (const r of rejected) sent.refusedDeletes.push({ key: c.find((x) => x.id === r.id)?.key ?? '', id: r.id, reason: r.reason });
  };
  // The deletes go first only when the imports need the room they free; otherwise they share the
  // replaced ids' BatchDelete calls.
  const held = d.held();
  const first = plan.deletes.length > 0 && deletesFirst(plan, held, d.capacity(), d.lookup);
  const replaced = replacedFirst(plan, held, d.capacity(), first, d.lookup);
  try {
    if (first) { for (const c of plan.deletes) await remove(c); }
    for (const c of chunk(replaced)) await remove(c);
    for (const planned of plan.imports) {
      // What another creator added since the last look is never imported over: such items are left
      // out (no outcome: they stay pending, and the next plan holds them back). The look comes right
      // before the call, after the import's own quota wait. Every chunk is checked against the index
      // (a look before an earlier chunk may have found its keys).
      await client.quotaReady('import');
      await tenant.look(call);
      const c = planned.filter((p) => !tenant.foreign?.holds(p.key));
      if (c.length < planned.length) {
        logger.info(
          { keys: planned.filter((p) => !c.includes(p)).map((p) => p.key).slice(0, 20), count: planned.length - c.length },
          'left out of an import: another creator added the value + type since the last listing',
        );
        d.leftOut();
      }
      if (c.length === 0) continue;
      const out = await client.import(c.map((p) => p.indicator), call);
      c.forEach((p, i) => {
        const o = out[i];
        if (o) sent.imported.set(p.key, checkOutcome(d, p.key, p.hash, o));
      });
    }
    const after = replacementDeletes(plan, sent.imported).flat().filter((x) => !sent.deletedIds.has(x.id));
    for (const c of chunk(first ? after : [...plan.deletes.flat(), ...after])) await remove(c);
  } catch (err) {
    if (err instanceof DefenderCallCancelledError) {
      logger.warn({ reason: (err.cause as Error | undefined)?.message }, 'Defender calls stopped: the group lease ended; nothing committed');
      return 'lost';
    }
    if (!(err instanceof DefenderClientClosedError)) logger.warn({ err, breaker: client.breakerState }, 'Defender call failed; batch not committed, consumption paused');
    return undefined;
  }
  const capRefused = [...sent.imported.values()].filter((o) => !o.ok && o.category === 'cap');
  if (capRefused.length > 0) tenant.refused(capRefused);
  // Throttling holds the whole batch back; other transient items only their key (pending).
  const transient = [...sent.imported.values()].filter((o) => !o.ok && !o.permanent && o.category !== 'foreign' && blocksBatch(o.category));
  if (transient.length > 0) {
    logger.warn({ items: transient.length, reason: transient[0] && !transient[0].ok ? transient[0].reason : undefined }, 'Defender refused items transiently; batch not committed, consumption paused');
    return undefined;
  }
  return sent;
}

/**
 * An import's per-item outcome, checked: the id of another creator's indicator never becomes ours
 * (the key is held back from now on); an unknown failure counts an attempt and, at the bound
 * (WRITER_ITEM_MAX_ATTEMPTS), becomes permanent (dead-lettered with Defender's text).
 */
function checkOutcome(d: SendDeps, key: string, hash: string, o: ImportOutcome): ImportOutcome {
  const attempts = d.keys.attempts;
  if (o.ok) {
    attempts.delete(key);
    const foreign = d.tenant.foreign;
    if (!foreign?.isForeignId(o.id)) return o;
    foreign.hold(key, { id: o.id, action: 'unknown', createdBy: 'another creator' });
    d.logger.warn({ key, id: o.id }, 'Defender answered an import with another creator’s indicator id: not taken as ours, the key is held back');
    return { ok: false, permanent: false, category: 'foreign', reason: `Defender answered with id ${o.id}, another creator’s indicator` };
  }
  if (o.category !== 'unknown' || o.permanent) return o;
  const prev = attempts.get(key);
  const n = prev?.hash === hash ? prev.n + 1 : 1;
  if (n < d.cfg.itemMaxAttempts) {
    attempts.set(key, { hash, n });
    d.logger.warn({ key, attempt: n, reason: o.reason }, 'Defender refused an item for an unknown reason; retried later');
    return o;
  }
  attempts.delete(key);
  return { ...o, permanent: true, reason: `${o.reason} (after ${n} attempts)` };
}
