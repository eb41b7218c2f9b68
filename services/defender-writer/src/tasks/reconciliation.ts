// One reconciliation: the tenant listed, compared with the owned partitions' states (findDrift), and
// the drift repaired: our orphans deleted, what Defender lost (or what turned out to be another
// creator's) forgotten and planned again in a round of its own.
import type { WriterContext } from './context.ts';
import { chunk } from '../core/plan.ts';
import { findDrift, type Drift } from '../core/drift.ts';
import type { Applied, RoundInput } from './round.ts';
import type { TenantView } from './tenant-view.ts';

type ReconciliationDeps = Pick<WriterContext, 'cfg' | 'client' | 'store' | 'lease' | 'metrics' | 'logger' | 'now' | 'partitionOf' | 'tasks' | 'keys'> & {
  readonly tenant: TenantView;
  /** A round (under the caller's lock). */
  readonly run: (input: RoundInput) => Promise<{ outcome: Applied; complete: boolean }>;
};

export async function reconcileOnce(d: ReconciliationDeps): Promise<Drift> {
  const { metrics: m, logger } = d;
  const call = d.lease.callOptions();
  d.tenant.beforeReconcile();
  const { listing, requeued } = await d.tenant.refresh(call);
  const drift = findDrift(listing, { application: d.cfg.application, clientId: d.cfg.clientId }, {
    partitionOf: d.partitionOf,
    ownedPartitions: () => d.tasks.owned(),
    states: () => d.store.inDefender(),
  }, d.now());
  m.drift.set({ kind: 'missing' }, drift.missing.length);
  m.drift.set({ kind: 'orphaned' }, drift.orphaned.length);
  m.drift.set({ kind: 'adopted' }, drift.adopted.length);
  logger.info({ listed: drift.listed, foreign: drift.foreign, missing: drift.missing.length, orphaned: drift.orphaned.length, adopted: drift.adopted.length, dryRun: d.cfg.dryRun }, 'reconciliation');
  // An import upserted over another creator's indicator: it is theirs; stop owning it, never delete it.
  for (const a of drift.adopted) logger.warn({ key: a.key, id: a.id, createdBy: a.createdBy }, 'an indicator this writer held is another creator’s: no longer owned, left untouched');
  for (const ids of chunk(drift.orphaned.map((o) => o.id))) {
    const { rejected } = await d.client.batchDelete(ids, call);
    for (const r of rejected) logger.warn({ id: r.id, reason: r.reason }, 'Defender refused to delete an orphaned indicator; it is reported again by the next reconciliation');
    m.repairs.inc({ kind: 'orphaned' }, ids.length - rejected.length);
  }
  if (drift.missing.length > 0 || drift.adopted.length > 0 || requeued > 0) {
    // Defender lost them, or they are another's: what was applied is forgotten and they are planned again.
    for (const key of [...drift.adopted.map((a) => a.key), ...drift.missing]) d.keys.forget.add(key);
    const { outcome, complete } = await d.run({ commands: [], batches: [], mode: 'send' });
    if (outcome !== 'ok' || !complete) throw new Error('re-importing missing indicators did not complete; the next rounds try again');
    if (drift.adopted.length > 0) m.repairs.inc({ kind: 'adopted' }, drift.adopted.length);
    m.repairs.inc({ kind: 'missing' }, drift.missing.length);
  }
  return drift;
}
