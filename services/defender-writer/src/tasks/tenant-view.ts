// What this writer knows of the shared tenant: other creators' indicators (the foreign index, from a
// listing of the whole tenant and the looks at what they added since), Defender's limit of active
// indicators as enforced, and the room that leaves this writer. Defender's limit is per tenant and
// shared by every creator, so the room is refreshed at every listing and learned from refusals.
import type { WriterContext } from './context.ts';
import type { CallOptions } from '../defender/client.ts';
import { DefenderHttpError } from '../defender/errors.ts';
import type { ImportOutcome } from '../defender/model.ts';
import { listForeignSince, listTenant, type ForeignIndex, type TenantListing } from '../defender/foreign.ts';
import type { Plan } from '../core/plan.ts';
import { learnLimit, limitFromRefusal, roomFor, tenantRoom } from '../core/room.ts';

type TenantViewDeps = Pick<WriterContext, 'cfg' | 'client' | 'store' | 'cap' | 'keys' | 'metrics' | 'logger' | 'now'> & {
  /** A reconciliation now (after a cap refusal our orphans also take room). */
  readonly reconcileNow: () => void;
};

export class TenantView {
  readonly #d: TenantViewDeps;
  /** Other creators' values + types, from the last listing of the tenant. */
  #foreign: ForeignIndex | undefined;
  /** Set on assignment and after a cap refusal: the tenant is listed again before the next Defender call. */
  #stale = true;
  /** When other creators' indicators were last looked at (a listing of the tenant, or of what they added since). */
  #checkedAt = -Infinity;
  /** Defender's limit of active indicators as this writer knows it: configured, lowered by a refusal. */
  #limit: number;
  /**
   * A cap refusal not yet learned from: the limit it named (undefined: none) and how many of our
   * indicators were deleted since. The next listing settles it.
   */
  #refusal: { limit: number | undefined; deletedSince: number } | undefined;
  /** A cap refusal happened since the last scheduled reconciliation (a learned limit is kept while they do). */
  #refusedSinceReconcile = false;
  /** The limit in force is one a refusal named: Defender's word, kept until the next start. */
  #limitNamed = false;
  /** Active indicators in the tenant free under its limit, as of the last listing (all creators, ours included). */
  #free = Infinity;
  /** Our indicators (this writer's partitions) in Defender at the last listing. */
  #heldAtListing = 0;
  /** Defender refused `createdBy ne …` (400: the operator is undocumented): looks filter by time only. */
  #lookByTimeOnly = false;
  #lastCapReconcile = -Infinity;
  /** The waiting keys of the cap, as last counted (a count scans them: not on every readiness probe). */
  #waiting = 0;
  #share = 0;

  constructor(d: TenantViewDeps) {
    this.#d = d;
    this.#limit = d.cfg.tenantLimit;
  }

  get foreign(): ForeignIndex | undefined {
    return this.#foreign;
  }

  /** The tenant must be listed before the next Defender call. */
  get stale(): boolean {
    return this.#stale;
  }

  markStale(): void {
    this.#stale = true;
  }

  /** Lists the whole tenant and takes what it shows (`useListing`); `requeued`: keys it made pending. */
  async refresh(call: CallOptions): Promise<{ listing: TenantListing; requeued: number }> {
    const listing = await listTenant(this.#d.client, this.#d.cfg.clientId, call, this.#d.now());
    return { listing, requeued: this.#useListing(listing) };
  }

  /**
   * Before a scheduled reconciliation: a learned limit is kept while refusals keep coming; one with
   * none since the previous reconciliation tries the configured limit again (a limit learned too low
   * would cost room forever).
   */
  beforeReconcile(): void {
    const configured = this.#d.cfg.tenantLimit;
    if (!this.#limitNamed && !this.#refusedSinceReconcile && this.#limit < configured) {
      this.#d.logger.info({ learned: this.#limit, configured }, 'no refusal at the tenant’s limit since the last reconciliation: planning with the configured limit again');
      this.#limit = configured;
    }
    this.#refusedSinceReconcile = false;
  }

  /**
   * A fresh listing of the tenant replaces the foreign index: keys it no longer holds back are
   * planned again, and keys of ours it now holds are planned (our indicator of them is deleted);
   * what the others hold sets the room. Returns how many keys it made pending (at least 1 when the
   * room changed: the cap moves keys).
   */
  #useListing(listing: TenantListing): number {
    const { keys, store, metrics: m, logger } = this.#d;
    const index = listing.foreign;
    this.#foreign = index;
    this.#stale = false;
    this.#checkedAt = this.#d.now();
    if (this.#refusal) {
      const learned = learnLimit({ current: this.#limit, named: this.#refusal.limit, listed: listing.listed, deletedSince: this.#refusal.deletedSince });
      this.#refusal = undefined;
      if (learned) {
        this.#limitNamed = learned.named;
        logger.warn(
          { configured: this.#d.cfg.tenantLimit, learned: learned.limit, listed: listing.listed, foreign: index.listedIndicators },
          'Defender refused creates at the tenant’s limit of active indicators: the room is planned with the limit it enforces',
        );
        this.#limit = learned.limit;
      }
    }
    this.#free = Math.max(0, this.#limit - listing.listed);
    this.#heldAtListing = store.appliedCount();
    let requeued = this.applyRoom(this.#share) ? 1 : 0;
    this.countWaiting();
    const requeue = (key: string): void => {
      keys.pending.add(key);
      requeued++;
    };
    for (const key of keys.held) {
      if (index.holds(key)) continue;
      keys.held.delete(key);
      requeue(key);
    }
    for (const [key, s] of store.inDefender()) if (index.holds(key) || (s.applied && index.isForeignId(s.applied.id))) requeue(key);
    m.foreignIndicators.set(index.listedIndicators);
    m.foreignHeld.set(keys.held.size);
    logger.info(
      { listed: listing.listed, foreign: index.listedIndicators, foreignKeys: index.size, held: keys.held.size, requeued, room: this.#d.cap.capacity, tenantLimit: this.#limit },
      'tenant listed: other creators’ indicators indexed',
    );
    return requeued;
  }

  /**
   * The cap's capacity is this writer's room: its share of the smaller of the budget and what other
   * creators leave under the tenant's limit; and never more than it held at the last listing plus
   * what the tenant had free then, so that a writer whose share is not free (another writer took
   * more, the limit is lower than configured) does not import into a full tenant again and again.
   * Returns whether it changed (the next plan moves keys).
   */
  applyRoom(share: number): boolean {
    const { cap, client, metrics: m, cfg } = this.#d;
    this.#share = share;
    if (share > 0) client.setShare(share);
    const before = cap.capacity;
    const room = roomFor({ budget: cfg.maxIndicators, tenantLimit: this.#limit, foreign: this.#foreign?.listedIndicators ?? 0, share });
    cap.setCapacity(Math.min(room, this.#heldAtListing + this.#free));
    m.capCapacity.set(cap.capacity);
    m.tenantLimit.set(this.#limit);
    return cap.capacity !== before;
  }

  countWaiting(): void {
    this.#waiting = this.#d.cap.waitingCount();
    this.#d.metrics.capWaiting.set(this.#waiting);
  }

  /** The room this writer has in Defender, what other creators hold and how many of its keys wait for room. */
  detail(): string {
    const foreign = this.#foreign?.listedIndicators ?? 0;
    const room = tenantRoom({ budget: this.#d.cfg.maxIndicators, tenantLimit: this.#limit, foreign });
    return `room ${this.#d.cap.capacity} (tenant: ${room} of limit ${this.#limit}, others hold ${foreign}), ${this.#d.store.appliedCount()} of ours in Defender, ${this.#waiting} waiting for room`;
  }

  /** Our indicators deleted: a listing after a refusal shows that many fewer than the tenant held at it. */
  deleted(n: number): void {
    if (this.#refusal) this.#refusal.deletedSince += n;
  }

  /**
   * Defender refused creates at the tenant's limit: not a failure of the batch (the rest commits, the
   * refused keys stay pending) but news about the room. The tenant is listed again before the next
   * write, and the next plan keeps the strongest keys in the smaller room. Our orphans (sent by an
   * attempt whose commit was lost) also take room: a reconciliation removes them, at most once a minute.
   */
  refused(refused: readonly ImportOutcome[]): void {
    const { metrics: m, logger, now } = this.#d;
    m.capRefusals.inc(refused.length);
    const reason = refused.map((o) => (o.ok ? '' : o.reason)).find((r) => r !== '') ?? '';
    const named = limitFromRefusal(reason);
    const before = this.#refusal?.limit;
    this.#refusal = { limit: named === undefined ? before : before === undefined ? named : Math.min(named, before), deletedSince: this.#refusal?.deletedSince ?? 0 };
    this.#refusedSinceReconcile = true;
    this.#stale = true;
    logger.warn(
      { items: refused.length, reason, limit: named, room: this.#d.cap.capacity },
      'Defender refused creates at the tenant’s limit of active indicators; re-listing the tenant and re-planning with the room left',
    );
    if (now() - this.#lastCapReconcile > 60_000) {
      this.#lastCapReconcile = now();
      this.#d.reconcileNow();
    }
  }

  /** Keys the plan held back for another creator: counted and logged when they start being held. */
  noteHeld(plan: Plan): void {
    const { keys, metrics: m, logger } = this.#d;
    for (const d of plan.dropped) {
      if (d.reason !== 'foreign-indicator' || keys.held.has(d.key)) continue;
      keys.held.add(d.key);
      m.foreignHolds.inc();
      logger.info({ key: d.key, holders: this.#foreign?.holders(d.key) ?? [] }, 'held back: another creator holds this value + type in Defender (foreign-indicator); re-checked at the next listing');
    }
    m.foreignHeld.set(keys.held.size);
  }

  /**
   * Before an import: when the last look at other creators' indicators is older than
   * WRITER_FOREIGN_CHECK_MS / share (the tenant's writers together look at most once per interval,
   * within the list quota shared with reconciliation), lists what they added since; their values +
   * types join the index, and the caller leaves them out of the import. Never an import held back
   * for a look: when other listings spent the list quota, the look waits for the next import (the
   * window widens by one, and the metric says so).
   */
  async look(call: CallOptions): Promise<void> {
    const { client, cfg, metrics: m, logger, now } = this.#d;
    const index = this.#foreign;
    if (!index || cfg.foreignCheckMs <= 0 || this.#share <= 0 || now() - this.#checkedAt < cfg.foreignCheckMs / this.#share) return;
    if (client.quotaWaitMs('list') > 0) {
      m.foreignChecks.inc({ outcome: 'deferred' });
      return;
    }
    let added: number;
    try {
      added = await listForeignSince(client, cfg.clientId, index, now(), { byCreator: !this.#lookByTimeOnly }, call);
    } catch (err) {
      if (this.#lookByTimeOnly || !(err instanceof DefenderHttpError) || err.statusCode !== 400) throw err;
      this.#lookByTimeOnly = true;
      logger.warn({ err }, 'Defender refused the look’s creator filter (createdBy ne …); looks filter by creation time only from now on');
      added = await listForeignSince(client, cfg.clientId, index, now(), { byCreator: false }, call);
    }
    this.#checkedAt = now();
    m.foreignChecks.inc({ outcome: added > 0 ? 'found' : 'clear' });
    if (added > 0) logger.info({ added }, 'other creators added indicators since the last look: their values + types are held back');
  }
}
