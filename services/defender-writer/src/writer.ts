// The defender-writer component: one member of the tenant's consumer group on the commands topic.
// Per partition it keeps the KeyStates restored from the compacted state topic (partition p of the
// state topic is the changelog of commands partition p), applies each batch to Defender, then writes
// the new states, the dead letters and the consumer offsets in one Kafka transaction per partition,
// through that partition's own transactional producer (its next owner's fences it). A crash before
// that transaction replays commands whose application is idempotent; a transient Defender failure
// pauses the partitions without committing, and the same records come back after resume. Every
// Defender call and every commit is made under the member's lease (see #guard).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { decodeCommand } from '@octi-defender/indicators';
import {
  partitionForKey,
  ProducerFencedError,
  topicDefinitions,
  type Batch,
  type Consumer,
  type Kafka,
  type OutgoingRecord,
  type TopicPartition,
  type TopicPartitionOffset,
  type TransactionalProducer,
} from '@octi-defender/kafka';
import type { Logger } from '@octi-defender/platform';
import { CapIndex } from './cap.ts';
import { policyFromConfig, type WriterConfig } from './config.ts';
import type { CallOptions, DefenderClient } from './defender/client.ts';
import { blocksBatch, DefenderCallCancelledError, DefenderClientClosedError, DefenderHttpError } from './defender/errors.ts';
import type { TokenSource } from './defender/token.ts';
import { desiredFor } from './desired.ts';
import type { ClaimCommand } from './facts.ts';
import type { WriterMetrics } from './metrics.ts';
import { applyOutcomes, chunk, deletesFirst, MAX_BATCH, planBatch, replacedFirst, replacementDeletes, type KeyState, type Plan, type PlannedDelete } from './plan.ts';
import { decodeState, encodeState, fitState, StateStore } from './state-store.ts';
import type { Policy } from './policy.ts';
import { ResyncHandler } from './resync.ts';
import { findDrift, ReconcileSchedule, type Drift } from './reconciler.ts';
import { listForeignSince, listTenant, type ForeignIndex, type TenantListing } from './foreign.ts';
import { limitFromRefusal, roomFor, tenantRoom } from './room.ts';
import type { ImportOutcome } from './defender/model.ts';

/** The raw record kept in a dead letter is cut to this many characters. */
const MAX_DEAD_LETTER_RAW = 64 * 1024;
/** Keys a plan examines besides its commands' (10 full import calls); the rest follow in later rounds. */
const MAX_PLAN_KEYS = 5000;
/** Longest state record (JSON characters): well under the broker's default message.max.bytes (1 MiB). */
const MAX_STATE_CHARS = 256 * 1024;
/** State-topic keys starting with this are the writer's own bookkeeping, never indicator keys. */
const META_PREFIX = '__writer__/';
/**
 * Delay of the reconciliation after an assignment (debounced: a cascade of rebalances costs one
 * listing). It also lets the calls the previous owner sent before its lease ended land first.
 */
const ASSIGN_RECONCILE_DELAY_MS = 10_000;
/** A batch arriving without a valid lease waits this long before it returns (no busy refetching). */
const LEASE_WAIT_MS = 200;

/** This process's identity in logs and Kafka client ids: unique even among processes sharing a host name. */
export function instanceIdentity(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** The transactional id of a partition's producer: the same on every member, so the next owner fences the previous one. */
export function partitionTransactionalId(group: string, partition: number): string {
  return `${group}.p${partition}`;
}

/** The member's lease ended (rebalance, eviction, a pause longer than the session): stop work for its partitions. */
export class LeaseLostError extends Error {
  constructor(reason: string) {
    super(`group lease lost: ${reason}`);
    this.name = 'LeaseLostError';
  }
}

/** How an application of commands ended: committed, to be retried after a pause, or abandoned (ownership lost). */
type Applied = 'ok' | 'retry' | 'lost';

/**
 * How a batch reaches Defender. `send`: its plan (with every pending key) is sent now. `join`: another
 * batch is waiting for the lock (the batches of one fetch are delivered together): this one waits,
 * uncommitted, and the last one applies all of them in one plan, its calls in full chunks across
 * partitions, then commits each partition. `fold`: the quota would make the call wait: the commands
 * are committed to the state only and their keys join the pending ones, which the call made once the
 * quota allows carries. `defer`: catching up with a backlog, the state only (the sync at its end
 * finds the keys).
 */
type Mode = 'send' | 'join' | 'fold' | 'defer';

/** A batch's records, decoded. */
interface Decoded {
  readonly batch: Batch;
  readonly commands: readonly ClaimCommand[];
  readonly deadLetters: readonly OutgoingRecord[];
  /** The next offset to consume, committed with the batch's partition. */
  readonly offset: TopicPartitionOffset;
}

/** A batch waiting for the next one to apply it with its own (Mode `join`). */
interface Joined extends Decoded {
  readonly settle: (outcome: Applied | undefined) => void;
}

export interface WriterDeadLetter {
  readonly origin: 'defender-writer';
  readonly reason: string;
  readonly detail: string;
  readonly key: string | null;
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: string;
  readonly raw?: string;
  readonly truncated?: boolean;
  readonly at: string;
}

/** The state-topic key holding the next command offset to apply for `partition`: it hashes to that partition. */
export function appliedOffsetKey(partition: number, partitions: number): string {
  for (let salt = 0; ; salt++) {
    const key = `${META_PREFIX}applied-offset/${partition}/${salt}`;
    if (partitionForKey(key, partitions) === partition) return key;
  }
}

interface RefusedDelete {
  readonly key: string;
  readonly id: string;
  readonly reason: string;
}

/** What the Defender calls of a plan achieved. */
interface Sent {
  readonly imported: ReadonlyMap<string, ImportOutcome>;
  readonly deletedIds: ReadonlySet<string>;
  readonly refusedDeletes: readonly RefusedDelete[];
}

const NOTHING_SENT: Sent = { imported: new Map(), deletedIds: new Set(), refusedDeletes: [] };

interface ApplyResult {
  /** `retry` when any partition's commit failed, else `ok` (or the early `lost`/`retry` of every partition). */
  readonly outcome: Applied;
  /** Per partition committed. */
  readonly partitions: ReadonlyMap<number, Applied>;
}

interface Partition {
  /** Next command offset not yet applied (from the changelog). */
  nextOffset: bigint;
  /** Commands after the last batch, as that batch's high watermark said. */
  behind: bigint;
  /** When `behind` was measured. */
  behindAt: number;
}

export interface WriterDeps {
  readonly kafka: Kafka;
  readonly client: DefenderClient;
  readonly tokens: TokenSource;
  readonly logger: Logger;
  readonly metrics: WriterMetrics;
  /** This process's identity in logs (default: instanceIdentity()). */
  readonly instanceId?: string;
  readonly now?: () => number;
}

export class Writer {
  readonly #cfg: WriterConfig;
  readonly #kafka: Kafka;
  readonly #client: DefenderClient;
  readonly #tokens: TokenSource;
  readonly #log: Logger;
  readonly #m: WriterMetrics;
  readonly #policy: Policy;
  readonly #now: () => number;
  readonly #instanceId: string;
  readonly #cap: CapIndex;
  readonly #store: StateStore;
  readonly #resync: ResyncHandler;
  readonly #parts = new Map<number, Partition>();
  #pending = new Set<string>();
  /** Keys whose local state differs from the changelog's (the reconciler forgot a lost indicator). */
  readonly #unsaved = new Set<string>();
  #partitionCount = 0;
  #consumer: Consumer | undefined;
  /** One transactional producer per owned partition. */
  readonly #producers = new Map<number, TransactionalProducer>();
  /** Aborted when the lease is lost: the operations started under it stop (see #callOptions). */
  #lease = new AbortController();
  #leaseTimer: NodeJS.Timeout | undefined;
  #assignReconcileTimer: NodeJS.Timeout | undefined;
  /** A post-assignment reconciliation was skipped by a catch-up: it runs when the catch-up ends. */
  #reconcileDue = false;
  /** Post-assignment repairs asked for, and the last one a completed reconciliation covered. */
  #repairsAsked = 0;
  #repairsDone = 0;
  /** Partitions dropped because their producer was fenced while the consumer still had them. */
  readonly #fenced = new Set<number>();
  #lock: Promise<unknown> = Promise.resolve();
  #joined = false;
  #tokenOk = false;
  #closed = false;
  #suspended = false;
  #resumeTimer: NodeJS.Timeout | undefined;
  #failures = 0;
  #lagTimer: NodeJS.Timeout | undefined;
  /** The lag measurement in flight: close() waits for it, else its admin reconnects after the close. */
  #lagRun: Promise<void> | undefined;
  #tokenTimer: NodeJS.Timeout | undefined;
  /** Set when the consumer stopped for good: the process is no longer live. */
  #failed: Error | undefined;
  #lastCapReconcile = -Infinity;
  /** When the current catch-up (Defender calls deferred) began. */
  #catchUpSince: number | undefined;
  #catchUpTimer: NodeJS.Timeout | undefined;
  readonly #reconciler: ReconcileSchedule;
  /** Other creators' values + types, from the last listing of the tenant. */
  #foreign: ForeignIndex | undefined;
  /** Set on assignment and after a cap refusal: the tenant is listed again before the next Defender call. */
  #foreignStale = true;
  /** When other creators' indicators were last looked at (a listing of the tenant, or of what they added since). */
  #foreignCheckedAt = -Infinity;
  /** Defender's limit of active indicators as this writer knows it: configured, lowered by a refusal. */
  #tenantLimit: number;
  /**
   * A cap refusal not yet learned from: the limit it named (undefined: none) and how many of our
   * indicators were deleted since (a listing after those deletes shows that many fewer than the
   * tenant held at the refusal). The next listing settles it.
   */
  #capRefusal: { limit: number | undefined; deletedSince: number } | undefined;
  /** A cap refusal happened since the last scheduled reconciliation (a learned limit is kept while they do). */
  #refusedSinceReconcile = false;
  /** The limit in force is one a refusal named: Defender's word, kept until the next start. */
  #limitNamed = false;
  /** Active indicators in the tenant free under its limit, as of the last listing (all creators, ours included). */
  #tenantFree = Infinity;
  /** Our indicators (this writer's partitions) in Defender at the last listing. */
  #heldAtListing = 0;
  /** Defender refused `createdBy ne …` (400: the operator is undocumented): looks filter by time only. */
  #lookByTimeOnly = false;
  /** The waiting keys of the cap, as last counted (a count scans them: not on every readiness probe). */
  #waiting = 0;
  /** Keys held back (foreign-indicator), planned again when a listing no longer shows the other's indicator. */
  readonly #held = new Set<string>();
  /** Attempts of keys whose import failed per item for an unknown reason (by the hash that failed). */
  readonly #itemAttempts = new Map<string, { hash: string; n: number }>();
  #itemRetryTimer: NodeJS.Timeout | undefined;
  /** Batches waiting for the lock (delivered concurrently, one per partition): the last one applies them all. */
  #waitingBatches = 0;
  /** Batches decoded and waiting for the last of their fetch (Mode `join`). */
  #joinedBatches: Joined[] = [];
  /** A send of the folded keys is on its way (#flushSoon). */
  #flushQueued = false;
  readonly #onBreakerOpen = (): void => this.#pauseAll();
  readonly #onBreakerRecover = (): void => this.#resumeNow('breaker');

  constructor(cfg: WriterConfig, deps: WriterDeps) {
    this.#cfg = cfg;
    this.#kafka = deps.kafka;
    this.#client = deps.client;
    this.#tokens = deps.tokens;
    this.#log = deps.logger;
    this.#m = deps.metrics;
    this.#policy = policyFromConfig(cfg);
    this.#now = deps.now ?? Date.now;
    this.#instanceId = deps.instanceId ?? instanceIdentity();
    this.#tenantLimit = cfg.tenantLimit;
    const partitionOf = (key: string): number => partitionForKey(key, this.#partitionCount);
    this.#store = new StateStore({ dir: cfg.stateDir, cacheBytes: cfg.stateCacheMb * 2 ** 20, partitionOf });
    this.#cap = new CapIndex(0, { db: this.#store.db, partitionOf });
    this.#resync = new ResyncHandler({ claimsOf: (key) => this.#store.get(key)?.claims ?? [], keysOf: (partition) => this.#store.keys(partition) });
    this.#reconciler = new ReconcileSchedule(() => this.reconcile(), cfg.reconcileIntervalMs, this.#log);
  }

  get partitionCount(): number {
    return this.#partitionCount;
  }

  /** Group joined (partitions assigned and restored, or an empty assignment) and a Defender token acquired. */
  ready(): { ok: boolean; detail: string } {
    if (this.#closed) return { ok: false, detail: 'closed' };
    if (this.#failed) return { ok: false, detail: `consumer stopped: ${this.#failed.message}` };
    if (!this.#joined) return { ok: false, detail: 'consumer group not joined yet' };
    if (!this.#tokenOk) return { ok: false, detail: 'no Defender token yet' };
    return { ok: true, detail: `${this.#parts.size} partition(s)${this.#suspended ? ', paused' : ''}; ${this.#roomDetail()}` };
  }

  /** The room this writer has in Defender, what other creators hold and how many of its keys wait for room. */
  #roomDetail(): string {
    const foreign = this.#foreign?.listedIndicators ?? 0;
    const room = tenantRoom({ budget: this.#cfg.maxIndicators, tenantLimit: this.#tenantLimit, foreign });
    return `room ${this.#cap.capacity} (tenant: ${room} of limit ${this.#tenantLimit}, others hold ${foreign}), ${this.#store.appliedCount()} of ours in Defender, ${this.#waiting} waiting for room`;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** False once closed or once the consumer stopped for good (a restart is the remedy). */
  live(): boolean {
    return !this.#closed && !this.#failed;
  }

  /** Partitions owned now. */
  ownedPartitions(): ReadonlySet<number> {
    return new Set(this.#parts.keys());
  }

  /** The state of a key of an owned partition (for tests and the reconciler). */
  state(key: string): KeyState | undefined {
    if (!this.#parts.has(partitionForKey(key, this.#partitionCount))) return undefined;
    return this.#store.get(key);
  }

  async start(): Promise<void> {
    await this.#ensureTopics();
    this.#checkToken();
    this.#client.on('open', this.#onBreakerOpen);
    this.#client.on('halfOpen', this.#onBreakerRecover);
    this.#client.on('close', this.#onBreakerRecover);
    this.#consumer = await this.#kafka.consumer({
      groupId: this.#cfg.consumerGroup,
      topics: [this.#cfg.commandsTopic],
      fromBeginning: true,
      sessionTimeoutMs: this.#cfg.sessionTimeoutMs,
      maxBytesPerPartition: this.#cfg.fetchBytesPerPartition,
      // The batches of one fetch are delivered together, so that all but the last join it (#mode).
      partitionsConsumedConcurrently: Math.max(1, this.#partitionCount),
      onAssigned: (partitions) => this.#exclusive(() => this.#assigned(partitions)),
      onJoined: (assignment) => {
        // A member with nothing assigned (more replicas than partitions) has joined too: it is ready.
        if (assignment.length === 0) this.#joined = true;
        // A partition dropped after its producer was fenced but kept by this join is restored again.
        if (this.#fenced.size > 0) void this.#exclusive(() => this.#retakeFenced());
      },
      onLeaseLost: (reason) => this.#loseLease(reason),
      onRevoked: (partitions) => this.#exclusive(() => this.#revoked(partitions)),
      onFailed: (err) => {
        this.#failed = err;
        this.#log.error({ err }, 'the consumer stopped for good; reporting not live so that the writer is restarted');
      },
    });
    await this.#consumer.run((batch) => this.#onBatch(batch));
    this.#lagTimer = setInterval(() => {
      if (this.#closed || this.#lagRun) return;
      this.#lagRun = this.#measureLag().finally(() => {
        this.#lagRun = undefined;
      });
    }, this.#cfg.lagIntervalMs);
    this.#lagTimer.unref();
    this.#reconciler.start();
    this.#log.info({ group: this.#cfg.consumerGroup, topic: this.#cfg.commandsTopic, stateTopic: this.#cfg.stateTopic, partitions: this.#partitionCount, dryRun: this.#cfg.dryRun, instance: this.#instanceId }, 'writer started');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#lagTimer);
    clearTimeout(this.#tokenTimer);
    clearTimeout(this.#resumeTimer);
    clearTimeout(this.#catchUpTimer);
    clearTimeout(this.#itemRetryTimer);
    clearTimeout(this.#leaseTimer);
    clearTimeout(this.#assignReconcileTimer);
    await this.#reconciler.stop();
    this.#client.off('open', this.#onBreakerOpen);
    this.#client.off('halfOpen', this.#onBreakerRecover);
    this.#client.off('close', this.#onBreakerRecover);
    await this.#lagRun;
    // The running batch may finish its Defender calls and commit; one stuck in a long Retry-After or
    // quota wait is cancelled instead (nothing committed: the partition's next owner replays it).
    let graceTimer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => (graceTimer = setTimeout(resolve, Math.min(10_000, this.#cfg.shutdownTimeoutMs / 3))));
    await Promise.race([this.#lock, grace]);
    clearTimeout(graceTimer);
    this.#client.abort();
    // Waits for the running batch (which ends with its transaction or without committing), then leaves the group.
    await this.#consumer?.close();
    await this.#lock.catch(() => undefined);
    await Promise.all([...this.#producers.keys()].map((p) => this.#closeProducer(p)));
    this.#store.close();
  }

  /** Compares Defender with the owned partitions' state and repairs the drift. */
  reconcile(): Promise<Drift | undefined> {
    return this.#exclusive(async () => {
      const asked = this.#repairsAsked;
      if (this.#closed) return undefined;
      if (this.#parts.size === 0) {
        this.#repaired(asked);
        return undefined;
      }
      // Mid catch-up the state is ahead of Defender on purpose: the sync at its end repairs it.
      if (this.#catchUpSince !== undefined) {
        this.#log.info('reconciliation skipped: catching up with a backlog; it runs when the catch-up ends');
        this.#reconcileDue = true;
        return undefined;
      }
      try {
        const drift = await this.#reconcileLocked();
        this.#m.reconciles.inc({ outcome: 'ok' });
        this.#repaired(asked);
        return drift;
      } catch (err) {
        this.#m.reconciles.inc({ outcome: 'failed' });
        throw err;
      }
    });
  }

  async #reconcileLocked(): Promise<Drift> {
    const view = { partitionCount: this.#partitionCount, ownedPartitions: () => this.ownedPartitions(), states: () => this.#store.inDefender() };
    const call = this.#callOptions();
    // A learned limit is kept while refusals keep coming; a reconciliation with none since the
    // previous one tries the configured limit again (a limit learned too low would cost room forever).
    if (!this.#limitNamed && !this.#refusedSinceReconcile && this.#tenantLimit < this.#cfg.tenantLimit) {
      this.#log.info({ learned: this.#tenantLimit, configured: this.#cfg.tenantLimit }, 'no refusal at the tenant’s limit since the last reconciliation: planning with the configured limit again');
      this.#tenantLimit = this.#cfg.tenantLimit;
    }
    this.#refusedSinceReconcile = false;
    const listing = await listTenant(this.#client, this.#cfg.clientId, call, this.#now());
    const requeued = this.#useListing(listing);
    const drift = findDrift(listing, { application: this.#cfg.application, clientId: this.#cfg.clientId }, view, this.#now());
    this.#m.drift.set({ kind: 'missing' }, drift.missing.length);
    this.#m.drift.set({ kind: 'orphaned' }, drift.orphaned.length);
    this.#m.drift.set({ kind: 'adopted' }, drift.adopted.length);
    this.#log.info({ listed: drift.listed, foreign: drift.foreign, missing: drift.missing.length, orphaned: drift.orphaned.length, adopted: drift.adopted.length, dryRun: this.#cfg.dryRun }, 'reconciliation');
    for (const a of drift.adopted) {
      const s = this.#store.get(a.key);
      if (!s) continue;
      // An import upserted over another creator's indicator: it is theirs; stop owning it, never delete it.
      this.#log.warn({ key: a.key, id: a.id, createdBy: a.createdBy }, 'an indicator this writer held is another creator’s: no longer owned, left untouched');
      const { applied: _theirs, ...rest } = s;
      this.#store.put(a.key, rest);
      this.#unsaved.add(a.key);
      this.#cap.delete(a.key);
      this.#pending.add(a.key);
    }
    if (drift.adopted.length > 0) this.#m.repairs.inc({ kind: 'adopted' }, drift.adopted.length);
    for (const ids of chunk(drift.orphaned.map((o) => o.id))) {
      const { rejected } = await this.#client.batchDelete(ids, call);
      for (const r of rejected) this.#log.warn({ id: r.id, reason: r.reason }, 'Defender refused to delete an orphaned indicator; it is reported again by the next reconciliation');
      this.#m.repairs.inc({ kind: 'orphaned' }, ids.length - rejected.length);
    }
    for (const key of drift.missing) {
      const s = this.#store.get(key);
      if (!s) continue;
      // Defender lost it: forget what was applied so the plan imports it again.
      const { applied: _gone, ...rest } = s;
      this.#store.put(key, rest);
      this.#unsaved.add(key);
      this.#cap.delete(key);
      this.#pending.add(key);
    }
    if (drift.missing.length > 0 || drift.adopted.length > 0 || requeued > 0) {
      const { outcome } = await this.#apply([], []);
      if (outcome !== 'ok') throw new Error('re-importing missing indicators did not complete; they stay pending');
      this.#m.repairs.inc({ kind: 'missing' }, drift.missing.length);
    }
    return drift;
  }

  /**
   * A fresh listing of the tenant replaces the foreign index: keys it no longer holds back are
   * planned again, and keys of ours it now holds are planned (our indicator of them is deleted);
   * what the others hold sets the room. Returns how many keys it made pending (at least 1 when the
   * room changed: the cap moves keys).
   */
  #useListing(listing: TenantListing): number {
    const index = listing.foreign;
    this.#foreign = index;
    this.#foreignStale = false;
    this.#foreignCheckedAt = this.#now();
    if (this.#capRefusal) {
      // Defender refused a create at its limit: the limit is at most what it named, and at most what
      // the tenant held then (what the listing shows plus what we deleted since). A named limit is
      // kept; an inferred one, possibly too low, costs room until a scheduled reconciliation without
      // refusal tries the configured one again, never exactness.
      const named = this.#capRefusal.limit;
      const inferred = listing.listed + this.#capRefusal.deletedSince;
      const learned = Math.min(this.#tenantLimit, named ?? Infinity, inferred);
      this.#capRefusal = undefined;
      if (learned < this.#tenantLimit) {
        this.#limitNamed = named !== undefined && named <= inferred;
        this.#log.warn({ configured: this.#cfg.tenantLimit, learned, listed: listing.listed, foreign: index.listedIndicators }, 'Defender refused creates at the tenant’s limit of active indicators: the room is planned with the limit it enforces');
        this.#tenantLimit = learned;
      }
    }
    this.#tenantFree = Math.max(0, this.#tenantLimit - listing.listed);
    this.#heldAtListing = this.#store.appliedCount();
    let requeued = this.#updateShare() ? 1 : 0;
    this.#countWaiting();
    const requeue = (key: string): void => {
      this.#pending.add(key);
      requeued++;
    };
    // Only keys of owned partitions are held (a revocation drops the others).
    for (const key of this.#held) {
      if (index.holds(key)) continue;
      this.#held.delete(key);
      requeue(key);
    }
    for (const [key, s] of this.#store.inDefender()) if (index.holds(key) || (s.applied && index.isForeignId(s.applied.id))) requeue(key);
    this.#m.foreignIndicators.set(index.listedIndicators);
    this.#m.foreignHeld.set(this.#held.size);
    this.#log.info({ listed: listing.listed, foreign: index.listedIndicators, foreignKeys: index.size, held: this.#held.size, requeued, room: this.#cap.capacity, tenantLimit: this.#tenantLimit }, 'tenant listed: other creators’ indicators indexed');
    return requeued;
  }

  /** Serializes batches, rebalances and reconciliations: they all read and write the states. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.catch(() => undefined);
    return run;
  }

  async #ensureTopics(): Promise<void> {
    const admin = await this.#kafka.admin();
    try {
      let commandsPartitions: number | undefined;
      try {
        commandsPartitions = (await admin.describeTopics([this.#cfg.commandsTopic]))[0]?.partitions;
      } catch {
        commandsPartitions = undefined;
      }
      // stateTopicTemplate '{tenant}' with the state topic as "tenant" names the configured topic.
      const wanted = topicDefinitions(
        { commandsTopic: this.#cfg.commandsTopic, dlqTopic: this.#cfg.dlqTopic, controlTopic: this.#cfg.controlTopic, stateTopicTemplate: '{tenant}', ...(commandsPartitions ? { commandsPartitions } : {}) },
        [this.#cfg.stateTopic],
      ).filter((t) => t.role !== 'checkpoints');
      const created = await admin.createTopics(wanted);
      if (created.length > 0) this.#log.info({ created }, 'created missing topics');
      const [commands, state] = await admin.describeTopics([this.#cfg.commandsTopic, this.#cfg.stateTopic]);
      if (!commands || !state) throw new Error('could not describe the commands and state topics');
      if (commands.partitions !== state.partitions) {
        throw new Error(
          `state topic ${state.name} has ${state.partitions} partitions but commands topic ${commands.name} has ${commands.partitions}: ` +
            'partition p of the state topic must be the changelog of commands partition p; recreate the state topic with the same count',
        );
      }
      this.#partitionCount = commands.partitions;
    } finally {
      await admin.close();
    }
  }

  #checkToken(): void {
    this.#tokens.get().then(
      () => {
        this.#tokenOk = true;
      },
      (err: unknown) => {
        this.#log.warn({ err }, 'no Defender token yet; retrying');
        if (!this.#closed) this.#tokenTimer = setTimeout(() => this.#checkToken(), 5000).unref();
      },
    );
  }

  async #measureLag(): Promise<void> {
    this.#countWaiting();
    try {
      for (const l of (await this.#consumer?.lag()) ?? []) {
        if (this.#parts.has(l.partition)) this.#m.lag.set({ partition: String(l.partition) }, Number(l.lag));
        else this.#m.lag.remove({ partition: String(l.partition) });
      }
    } catch (err) {
      this.#log.debug({ err }, 'consumer lag not measured');
    }
  }

  #countWaiting(): void {
    this.#waiting = this.#cap.waitingCount();
    this.#m.capWaiting.set(this.#waiting);
  }

  #share(): number {
    return this.#parts.size / Math.max(1, this.#partitionCount);
  }

  /**
   * The cap's capacity is this writer's room: its share of the smaller of the budget and what other
   * creators leave under the tenant's limit; and never more than it held at the last listing plus
   * what the tenant had free then, so that a writer whose share is not free (another writer took
   * more, the limit is lower than configured) does not import into a full tenant again and again.
   * Returns whether it changed (the next plan moves keys).
   */
  #updateShare(): boolean {
    const share = this.#share();
    if (share > 0) this.#client.setShare(share);
    const before = this.#cap.capacity;
    const room = roomFor({ budget: this.#cfg.maxIndicators, tenantLimit: this.#tenantLimit, foreign: this.#foreign?.listedIndicators ?? 0, share });
    this.#cap.setCapacity(Math.min(room, this.#heldAtListing + this.#tenantFree));
    this.#m.capCapacity.set(this.#cap.capacity);
    this.#m.tenantLimit.set(this.#tenantLimit);
    this.#m.assigned.set(this.#parts.size);
    return this.#cap.capacity !== before;
  }

  #updateOwned(): void {
    this.#m.owned.set(this.#store.appliedCount());
  }

  async #assigned(partitions: readonly TopicPartition[]): Promise<void> {
    const now = this.#now();
    // A partition a later join already took away is not registered: its producer would fence the new owner's.
    const current = new Set(this.#consumer?.assignment().map((tp) => tp.partition));
    const fresh = partitions.filter((tp) => !this.#parts.has(tp.partition) && current.has(tp.partition));
    if (fresh.length === 0) return;
    for (const { partition } of fresh) {
      this.#fenced.delete(partition);
      const part: Partition = { nextOffset: 0n, behind: 0n, behindAt: now };
      // The partition's producer first: its registration fences the previous owner's and aborts that
      // one's open transaction, so the restore below (committed data only) sees all it committed.
      await this.#closeProducer(partition);
      this.#producers.set(partition, await this.#kafka.transactionalProducer(partitionTransactionalId(this.#cfg.consumerGroup, partition)));
      let restored = 0;
      // A partition this member held before (revoked, then assigned again) starts from the changelog.
      this.#store.dropPartition(partition);
      this.#cap.dropPartition(partition);
      const offsetKey = appliedOffsetKey(partition, this.#partitionCount);
      // Streamed in offset order into one local transaction: later records of a key replace earlier
      // ones, and memory holds a fetch, not the partition.
      await this.#store.transactionAsync(() =>
        this.#kafka.scanCompacted(
          this.#cfg.stateTopic,
          (key, r) => {
            if (key.startsWith(META_PREFIX)) {
              if (key === offsetKey && r.value) part.nextOffset = BigInt((JSON.parse(r.value.toString('utf8')) as { next: string }).next);
              return;
            }
            if (r.value === null) {
              this.#store.delete(key);
              this.#cap.delete(key);
              this.#pending.delete(key);
              return;
            }
            const text = r.value.toString('utf8');
            let s: KeyState;
            try {
              s = decodeState(text);
            } catch (err) {
              this.#log.error({ err, key, offset: r.offset.toString() }, 'unreadable state record ignored');
              return;
            }
            this.#store.put(key, s, text);
            restored++;
            const d = desiredFor(s.claims, this.#policy, now);
            if (d.present && d.hash !== s.rejectedHash) this.#cap.set(key, d.strength);
            else this.#cap.delete(key);
            // What Defender holds is re-planned once: the cap share or the policy may have changed since.
            if (s.applied || s.staleIds?.length) this.#pending.add(key);
            else this.#pending.delete(key);
          },
          { partitions: [partition] },
        ),
      );
      this.#parts.set(partition, part);
      this.#log.info({ partition, records: restored, nextOffset: part.nextOffset.toString() }, 'partition state restored');
    }
    // Where each partition ends now, so that catching up starts with the first batch of any of them.
    try {
      for (const l of (await this.#consumer?.lag()) ?? []) {
        const part = this.#parts.get(l.partition);
        if (part && l.end > part.nextOffset) part.behind = l.end - part.nextOffset;
      }
    } catch (err) {
      this.#log.debug({ err }, 'end offsets not read; catch-up starts with the first batch behind');
    }
    this.#joined = true;
    this.#foreignStale = true;
    this.#updateShare();
    this.#updateOwned();
    // A partition paused when it was lost is consumed again.
    const c = this.#consumer;
    if (c && !this.#suspended) {
      const paused = new Set(c.paused().map((tp) => tp.partition));
      const again = fresh.filter((tp) => paused.has(tp.partition));
      if (again.length > 0) c.resume(again);
    }
    // What a previous owner (or this process before a crash) sent without committing is found by a
    // reconciliation soon after the assignment.
    this.#reconcileSoon();
    // Settle the cap with the new capacity and retry pending keys, even if no command arrives.
    void this.#exclusive(() => this.#maintain());
  }

  /** The debounced reconciliation after an assignment; retried while it fails. */
  #reconcileSoon(): void {
    if (this.#closed || this.#cfg.dryRun) return;
    this.#repairsAsked++;
    this.#m.repairPending.set(1);
    clearTimeout(this.#assignReconcileTimer);
    this.#assignReconcileTimer = setTimeout(() => {
      this.#reconciler.runNow().catch((err: unknown) => {
        this.#log.warn({ err }, 'reconciliation after an assignment failed; retrying');
        this.#reconcileSoon();
      });
    }, ASSIGN_RECONCILE_DELAY_MS).unref();
  }

  async #closeProducer(partition: number): Promise<void> {
    const p = this.#producers.get(partition);
    if (!p) return;
    this.#producers.delete(partition);
    await p.close().catch((err: unknown) => this.#log.warn({ err, partition }, 'closing a partition producer failed'));
  }

  /** Drops a partition whose producer was fenced: another member owns it now. Its state goes; the process carries on. */
  async #lose(partition: number): Promise<void> {
    this.#log.warn({ partition }, 'partition producer fenced: another member owns the partition; its state is dropped');
    this.#consumer?.pause([{ topic: this.#cfg.commandsTopic, partition }]);
    await this.#revoked([{ topic: this.#cfg.commandsTopic, partition }]);
    this.#fenced.add(partition);
    void this.#exclusive(() => this.#retakeFenced());
  }

  /**
   * Fenced partitions the consumer still holds under a valid lease are registered and restored again:
   * no other member can own them then (the fencer was an owner whose assignment had already ended,
   * e.g. one that registered late), so waiting for the next join would leave them unconsumed.
   */
  async #retakeFenced(): Promise<void> {
    if (this.#closed || this.#leaseRemaining() <= 0) return;
    const again = (this.#consumer?.assignment() ?? []).filter((tp) => this.#fenced.has(tp.partition));
    if (again.length > 0) await this.#assigned(again);
  }

  /** The lease ended: every call and commit of the operations started under it stops. */
  #loseLease(reason: string): void {
    if (this.#lease.signal.aborted) return;
    clearTimeout(this.#leaseTimer);
    this.#lease.abort(new LeaseLostError(reason));
  }

  /**
   * The options of one operation's Defender calls (a batch, a maintenance round, a reconciliation):
   * cancelled when the lease is lost, and each HTTP request re-checks the lease right before it is
   * sent (#guard): a check made when the operation started says nothing after a long quota wait, a
   * Retry-After or a pause of the process. An operation started under a lost lease gets a new one only
   * when the consumer holds a valid lease again.
   */
  #callOptions(): CallOptions {
    if (this.#lease.signal.aborted && this.#leaseRemaining() > 0) this.#lease = new AbortController();
    const lease = this.#lease;
    this.#armLeaseTimer();
    return { signal: lease.signal, guard: () => this.#guard(lease) };
  }

  #leaseRemaining(): number {
    return this.#consumer?.leaseRemainingMs() ?? 0;
  }

  #guard(lease: AbortController): void {
    if (!lease.signal.aborted && this.#leaseRemaining() <= 0) this.#loseLease('session lease expired');
    lease.signal.throwIfAborted();
  }

  /** Aborts the calls in flight when the lease runs out without being renewed (heartbeats not getting through). */
  #armLeaseTimer(): void {
    clearTimeout(this.#leaseTimer);
    if (this.#lease.signal.aborted) return;
    const remaining = this.#leaseRemaining();
    if (remaining <= 0) return this.#loseLease('session lease expired');
    this.#leaseTimer = setTimeout(() => this.#armLeaseTimer(), remaining + 1).unref();
  }

  async #revoked(partitions: readonly TopicPartition[]): Promise<void> {
    for (const { partition } of partitions) {
      this.#fenced.delete(partition);
      await this.#closeProducer(partition);
      const part = this.#parts.get(partition);
      if (!part) continue;
      this.#store.dropPartition(partition);
      this.#cap.dropPartition(partition);
      for (const key of this.#pending) if (partitionForKey(key, this.#partitionCount) === partition) this.#pending.delete(key);
      // Holds and item attempts are the new owner's to count: kept here they would be counted on if the partition came back.
      for (const key of this.#held) if (partitionForKey(key, this.#partitionCount) === partition) this.#held.delete(key);
      for (const key of this.#itemAttempts.keys()) if (partitionForKey(key, this.#partitionCount) === partition) this.#itemAttempts.delete(key);
      this.#parts.delete(partition);
      this.#resync.drop(partition);
      this.#m.lag.remove({ partition: String(partition) });
    }
    this.#m.foreignHeld.set(this.#held.size);
    this.#log.info({ partitions: partitions.map((p) => p.partition) }, 'partitions revoked; their state dropped');
    this.#updateShare();
    this.#updateOwned();
  }

  /** A reconciliation that started after `asked` repairs were asked for completed: those are done. */
  #repaired(asked: number): void {
    this.#repairsDone = Math.max(this.#repairsDone, asked);
    this.#m.repairPending.set(this.#repairsAsked > this.#repairsDone ? 1 : 0);
  }

  /** A plan without commands: cap moves and pending keys. */
  async #maintain(): Promise<void> {
    // While catching up, the sync at its end plans everything once.
    if (this.#closed || this.#suspended || this.#parts.size === 0 || this.#catchUpSince !== undefined) return;
    try {
      const { outcome } = await this.#apply([], []);
      if (outcome === 'retry') this.#suspend();
      // No valid lease yet (right after a join, before the first heartbeat) or any more: pending keys
      // (a restored state ahead of Defender, folded batches) would otherwise wait for the next command.
      else if (outcome === 'lost' && this.#pending.size > 0) this.#maintainLater();
    } catch (err) {
      this.#log.error({ err }, 'maintenance round failed');
    }
  }

  async #onBatch(batch: Batch): Promise<void> {
    this.#waitingBatches++;
    let joined: Promise<[Decoded, Applied | undefined]> | undefined;
    await this.#exclusive(async () => {
      this.#waitingBatches--;
      try {
        const d = await this.#decode(batch);
        if (!d) return;
        const mode = this.#mode();
        if (mode === 'join') {
          joined = new Promise((resolve) => this.#joinedBatches.push({ ...d, settle: (outcome) => resolve([d, outcome]) }));
          return;
        }
        this.#finish(d, (await this.#applyJoined(d, mode)).get(batch.partition));
      } finally {
        // The batch that was to apply the joined ones returned early: they go now.
        if (this.#waitingBatches === 0 && this.#joinedBatches.length > 0) await this.#applyJoined(undefined, this.#mode());
      }
    });
    if (joined) this.#finish(...(await joined));
  }

  /** The batch's records as commands and dead letters; undefined when the batch is not to be applied now. */
  async #decode(batch: Batch): Promise<Decoded | undefined> {
    const part = this.#parts.get(batch.partition);
    // Not resolving = the records come back after resume or go to the partition's new owner.
    if (this.#suspended || this.#closed || batch.isStale() || !part) return undefined;
    // Not owned under a valid lease: return without committing, so that kafkajs rejoins (after a
    // short wait: the adapter's heartbeats may renew the lease, and the same records come back).
    if (this.#leaseRemaining() <= 0) {
      await new Promise((r) => setTimeout(r, LEASE_WAIT_MS));
      return undefined;
    }
    const commands: ClaimCommand[] = [];
    const deadLetters: OutgoingRecord[] = [];
    const at = new Date(this.#now()).toISOString();
    for (const r of batch.records) {
      if (r.offset < part.nextOffset) continue;
      const where = { key: r.key, topic: r.topic, partition: r.partition, offset: r.offset.toString() };
      if (r.value === null) {
        deadLetters.push(this.#deadLetter({ ...where, reason: 'empty_value', detail: 'record has no value', at }));
        continue;
      }
      if (r.headers.op?.toString() === 'resync') {
        const m = this.#resync.marker(batch.partition, r.value, commands);
        if (!m.ok) deadLetters.push(this.#deadLetter({ ...where, reason: 'invalid_command', detail: m.error, raw: r.value.toString('utf8').slice(0, MAX_DEAD_LETTER_RAW), truncated: false, at }));
        else {
          if (m.marker.phase === 'end') this.#log.info({ stream: m.marker.streamId, epoch: m.marker.epoch, partition: batch.partition, retracted: m.retractions.length }, 'resync ended: retracting what the replay did not assert');
          commands.push(...m.retractions);
        }
        continue;
      }
      const d = decodeCommand(r.value);
      if (!d.ok) {
        const raw = r.value.toString('utf8');
        const truncated = raw.length > MAX_DEAD_LETTER_RAW;
        deadLetters.push(this.#deadLetter({ ...where, reason: d.error.code, detail: d.error.message, raw: truncated ? raw.slice(0, MAX_DEAD_LETTER_RAW) : raw, truncated, at }));
        continue;
      }
      if (d.value.key !== r.key || partitionForKey(d.value.key, this.#partitionCount) !== batch.partition) {
        deadLetters.push(this.#deadLetter({ ...where, reason: 'key_mismatch', detail: `command key ${JSON.stringify(d.value.key)} is not the record key`, at }));
        continue;
      }
      this.#resync.observe(batch.partition, d.value);
      commands.push(d.value);
    }
    const next = batch.lastOffset + 1n;
    part.behind = batch.highWatermark - next;
    part.behindAt = this.#now();
    return { batch, commands, deadLetters, offset: { topic: batch.topic, partition: batch.partition, offset: next } };
  }

  /** The joined batches, with `own` if given, applied together; every joined one is settled, whatever happens. */
  async #applyJoined(own: Decoded | undefined, mode: Mode): Promise<Map<number, Applied | undefined>> {
    const group = this.#joinedBatches.splice(0);
    let outcomes = new Map<number, Applied | undefined>();
    try {
      outcomes = await this.#applyBatches(own ? [...group, own] : group, mode);
    } finally {
      for (const g of group) g.settle(outcomes.get(g.batch.partition));
    }
    return outcomes;
  }

  /**
   * Applies decoded batches (of distinct partitions) in one plan: their commands together, each
   * partition's dead letters and offset in its own transaction. The outcome per partition; undefined:
   * not applied now (the writer is paused or closing, or the partition is no longer owned), nothing
   * committed, the records come back.
   */
  async #applyBatches(batches: readonly Decoded[], mode: Mode): Promise<Map<number, Applied | undefined>> {
    const outcomes = new Map<number, Applied | undefined>();
    const live = batches.filter((d) => !this.#suspended && !this.#closed && !d.batch.isStale() && this.#parts.has(d.batch.partition));
    if (live.length === 0) return outcomes;
    // The last batch of a group sends for all (`join` only waits for it).
    const applied = await this.#apply(
      live.flatMap((d) => d.commands),
      live,
      mode === 'join' ? 'send' : mode,
    );
    for (const d of live) outcomes.set(d.batch.partition, applied.partitions.get(d.batch.partition) ?? applied.outcome);
    if (mode === 'fold' && live.some((d) => outcomes.get(d.batch.partition) === 'ok')) this.#flushSoon();
    return outcomes;
  }

  /** What the consumer and the metrics learn of a batch's application. */
  #finish(d: Decoded, outcome: Applied | undefined): void {
    if (outcome === undefined) return;
    if (outcome === 'lost') {
      this.#m.batches.inc({ outcome: 'lost' });
      return;
    }
    if (outcome === 'retry') {
      this.#m.batches.inc({ outcome: 'retry' });
      // One failed application is one failure for the backoff, however many joined batches it carried.
      if (!this.#suspended) this.#suspend();
      return;
    }
    for (const c of d.commands) this.#m.commands.inc({ op: c.op });
    this.#m.batches.inc({ outcome: 'applied' });
    this.#resync.settle(d.batch.partition);
    d.batch.resolveOffset(d.batch.lastOffset);
  }

  /**
   * How the next batch is applied (see Mode). Joined while another batch waits for the lock; folded
   * while the quota would hold the call back (Defender's limit is in calls, not items: the call that
   * goes when the quota allows carries every key folded meanwhile). Not folded after a failure or
   * over a Retry-After: the send meets it and the writer pauses, nothing committed.
   */
  #mode(): Mode {
    if (this.#deferring()) return 'defer';
    if (this.#waitingBatches > 0) return 'join';
    // After a failed call nothing is committed until Defender answers again (the send fails, the
    // writer pauses): folding would commit a whole outage's commands with nothing sent.
    if (this.#failures > 0 || this.#client.breakerState !== 'closed' || this.#client.throttledForMs() > 0) return 'send';
    return this.#quotaWaitMs() > 0 ? 'fold' : 'send';
  }

  /** How long the next import or BatchDelete would wait for the quota. */
  #quotaWaitMs(): number {
    return Math.max(this.#client.quotaWaitMs('import'), this.#client.quotaWaitMs('batchDelete'));
  }

  /**
   * Sends the folded keys once the quota allows a call: the wait is spent outside the lock, so the
   * batches arriving meanwhile fold too and go in the same call.
   */
  #flushSoon(): void {
    if (this.#closed || this.#flushQueued) return;
    this.#flushQueued = true;
    void (async () => {
      try {
        await this.#client.quotaReady('import');
        await this.#client.quotaReady('batchDelete');
      } catch {
        // Closed: the folded keys are committed; the partitions' next owner plans them.
      }
      await this.#exclusive(async () => {
        this.#flushQueued = false;
        await this.#maintain();
      });
    })();
  }

  /**
   * Catching up with a backlog: while any owned partition is more than WRITER_CATCH_UP_LAG commands
   * behind, batches only fold into the state. Syncing each batch would admit keys that later,
   * stronger ones evict (the cap spans all partitions), costing calls on both endpoints; once every
   * partition caught up (or WRITER_CATCH_UP_MAX_MS later) one sync sends only the final difference.
   */
  #deferring(): boolean {
    const now = this.#now();
    let behind = 0n;
    // A measure no batch refreshed for a whole window is ignored: a partition ending in aborted
    // records never delivers the batch that would bring it down.
    for (const p of this.#parts.values()) if (p.behind > behind && now - p.behindAt < this.#cfg.catchUpMaxMs) behind = p.behind;
    // Entered above the bound, left within a tenth of it: the tail of a backlog is folded too, not
    // sent as it comes (its stronger keys would evict some the sync had just imported).
    const bound = this.#catchUpSince === undefined ? this.#cfg.catchUpLag : Math.floor(this.#cfg.catchUpLag / 10);
    if (this.#cfg.catchUpLag > 0 && behind > BigInt(bound)) {
      if (this.#catchUpSince === undefined) {
        this.#catchUpSince = now;
        // The sync also comes when no batch follows (the stream went quiet within the window).
        clearTimeout(this.#catchUpTimer);
        this.#catchUpTimer = setTimeout(() => void this.#exclusive(() => (this.#endCatchUp() ? this.#maintain() : Promise.resolve())), this.#cfg.catchUpMaxMs).unref();
      }
      if (now - this.#catchUpSince < this.#cfg.catchUpMaxMs) return true;
    }
    this.#endCatchUp();
    return false;
  }

  /** Ends a catch-up: what Defender holds is planned again, with the cap's moves (its dirty keys). */
  #endCatchUp(): boolean {
    clearTimeout(this.#catchUpTimer);
    if (this.#catchUpSince === undefined) return false;
    this.#catchUpSince = undefined;
    for (const [key] of this.#store.inDefender()) this.#pending.add(key);
    this.#log.info({ pending: this.#pending.size }, 'caught up with the backlog: syncing Defender');
    if (this.#reconcileDue) {
      this.#reconcileDue = false;
      // Queued behind the sync's first round.
      this.#reconciler.runNow().catch((err: unknown) => this.#log.warn({ err }, 'reconciliation after a catch-up failed'));
    }
    return true;
  }

  #deadLetter(letter: Omit<WriterDeadLetter, 'origin'>): OutgoingRecord {
    this.#m.deadLetters.inc({ reason: letter.reason });
    this.#log.warn({ reason: letter.reason, detail: letter.detail, key: letter.key, partition: letter.partition, offset: letter.offset }, 'sent to the dead-letter topic');
    const value: WriterDeadLetter = { origin: 'defender-writer', ...letter };
    return {
      topic: this.#cfg.dlqTopic,
      key: letter.key ?? `${letter.topic ?? ''}:${letter.partition ?? ''}:${letter.offset ?? ''}`,
      value: JSON.stringify(value),
      headers: { origin: 'defender-writer', reason: letter.reason },
    };
  }

  /**
   * Plans, calls Defender, then commits states + dead letters (+ offsets) in one transaction per
   * partition involved and only then updates memory. `retry`: a transient failure (Defender, or a
   * Kafka write): what was not committed is re-planned, the caller pauses and replays. `lost`: the
   * lease ended or the batch's partition was fenced: nothing more is sent or committed for it, and
   * the caller returns at once (the partition's next owner replays it). `fold` and `defer`: no
   * Defender call, the state only (see Mode). Each batch's dead letters and offset go with its
   * partition; the outcome is given per partition committed and overall.
   */
  async #apply(commands: readonly ClaimCommand[], batches: readonly Decoded[] = [], mode: Exclude<Mode, 'join'> = 'send'): Promise<ApplyResult> {
    const defer = mode !== 'send';
    const call = this.#callOptions();
    const all = (outcome: Applied): ApplyResult => ({ outcome, partitions: new Map() });
    if (call.signal?.aborted) return all('lost');
    const lookup = (key: string): KeyState | undefined => this.#store.get(key);
    const now = this.#now();
    // Nothing is sent before the tenant was listed since the assignment: other creators' keys must be known.
    if (!defer && this.#foreignStale) {
      try {
        this.#useListing(await listTenant(this.#client, this.#cfg.clientId, call, this.#now()));
      } catch (err) {
        if (err instanceof DefenderCallCancelledError) return all('lost');
        if (!(err instanceof DefenderClientClosedError)) this.#log.warn({ err }, 'listing the tenant failed; nothing sent, retrying after a pause');
        return all('retry');
      }
    }
    const pending = defer ? [] : [...this.#pending].filter((k) => this.#parts.has(this.#partitionOf(k)));
    // One local transaction for the cap's many small writes.
    const plan = this.#store.transaction(() => planBatch({ commands, lookup, policy: this.#policy, cap: this.#cap, now, pending, touchedOnly: defer, maxKeys: MAX_PLAN_KEYS, foreign: this.#foreign }));
    if (!defer) this.#noteHeld(plan);
    let sent: Sent = NOTHING_SENT;
    if (!defer) {
      // More rounds follow at once: their keys fill this round's last, partial import chunk.
      const out = await this.#send(plan.remaining > 0 ? { ...plan, imports: plan.imports.filter((c) => c.length === MAX_BATCH) } : plan, call);
      if (out === 'lost') {
        for (const k of plan.keys) this.#pending.add(k);
        return all('lost');
      }
      if (!out) return all('retry');
      sent = out;
    }
    const { imported, deletedIds, refusedDeletes } = sent;
    if (!defer && this.#cfg.dryRun && (plan.deletes.length > 0 || plan.imports.length > 0)) {
      this.#log.info({ dryRun: true, imports: plan.imports.flat().length, deletes: plan.deletes.flat().length, dropped: plan.dropped.length, unchanged: plan.unchanged.length }, 'dry run: plan');
    }
    const result = this.#store.transaction(() => applyOutcomes(plan, { imported, deletedIds }, lookup, this.#cap));
    const commits = new Map<number, { records: OutgoingRecord[]; offsets: TopicPartitionOffset[]; toStore: Map<string, { state: KeyState; value: string } | null> }>();
    const commitOf = (partition: number) => {
      let c = commits.get(partition);
      if (!c) commits.set(partition, (c = { records: [], offsets: [], toStore: new Map() }));
      return c;
    };
    for (const b of batches) commitOf(b.offset.partition).records.push(...b.deadLetters);
    const at = new Date(now).toISOString();
    for (const [key, s] of result.states) {
      // Unchanged (a replay, or re-planned and still in sync): the changelog already holds it.
      if (s === lookup(key) && !this.#unsaved.has(key)) continue;
      const c = commitOf(this.#partitionOf(key));
      if (!s) {
        c.toStore.set(key, null);
        c.records.push({ topic: this.#cfg.stateTopic, key, value: null });
        continue;
      }
      let state = s;
      let value = encodeState(s);
      if (value.length > MAX_STATE_CHARS) {
        const fitted = fitState(s, MAX_STATE_CHARS);
        const sources = fitted.dropped.map((x) => x.sourceId);
        c.records.push(this.#deadLetter({ key, reason: 'too_many_claims', detail: `${sources.length} weakest claims dropped to fit one state record: ${sources.slice(0, 20).join(', ')}${sources.length > 20 ? ', …' : ''}`, at }));
        state = fitted.state;
        value = encodeState(state);
      }
      c.toStore.set(key, { state, value });
      c.records.push({ topic: this.#cfg.stateTopic, key, value });
    }
    for (const r of result.rejected) {
      commitOf(this.#partitionOf(r.key)).records.push(this.#deadLetter({ key: r.key, reason: r.category === 'unknown' ? 'defender_failed' : 'defender_rejected', detail: r.reason, at }));
    }
    for (const r of refusedDeletes) {
      commitOf(this.#partitionOf(r.key)).records.push(this.#deadLetter({ key: r.key, reason: 'defender_delete_rejected', detail: `id ${r.id}: ${r.reason}`, at }));
    }
    for (const { offset: o } of batches) {
      const c = commitOf(o.partition);
      c.offsets.push(o);
      c.records.push({ topic: this.#cfg.stateTopic, key: appliedOffsetKey(o.partition, this.#partitionCount), value: JSON.stringify({ next: o.offset.toString() }) });
    }
    let outcome: Applied = 'ok';
    const partitions = new Map<number, Applied>();
    const failed = new Set<number>();
    for (const [partition, c] of [...commits].sort(([x], [y]) => x - y)) {
      const committed = await this.#commit(partition, c.records, c.offsets, call);
      partitions.set(partition, committed);
      if (committed !== 'ok') {
        failed.add(partition);
        // Any partition's Kafka failure means a pause and a retry (a fenced one is dropped: `lost`).
        if (committed === 'retry') outcome = 'retry';
        continue;
      }
      for (const key of c.toStore.keys()) this.#unsaved.delete(key);
      this.#store.transaction(() => {
        for (const [key, v] of c.toStore) {
          if (v) this.#store.put(key, v.state, v.value);
          else this.#store.delete(key);
        }
      });
      const part = this.#parts.get(partition);
      for (const o of c.offsets) if (part) part.nextOffset = o.offset;
    }
    if (!defer) {
      // The cap counts the outcomes of partitions whose commit failed as done: their keys are re-planned.
      for (const k of plan.keys) {
        const p = this.#partitionOf(k);
        if (!failed.has(p)) this.#pending.delete(k);
        else if (this.#parts.has(p)) this.#pending.add(k);
      }
      for (const k of result.pending) this.#pending.add(k);
      if (plan.remaining > 0) void this.#exclusive(() => this.#maintain());
      if ([...imported.values()].some((o) => !o.ok && !o.permanent)) this.#maintainLater();
    } else if (mode === 'fold') {
      // What the batch needs from Defender is sent with the other partitions' by the next send.
      const unsent = new Set(result.pending);
      for (const k of plan.keys) {
        const p = this.#partitionOf(k);
        if (failed.has(p) ? this.#parts.has(p) : unsent.has(k)) this.#pending.add(k);
      }
    }
    if (outcome === 'ok') this.#failures = 0;
    this.#updateOwned();
    // A batch whose own partition committed still pauses and replays when another one failed.
    for (const [p, o] of partitions) if (o === 'ok' && outcome === 'retry') partitions.set(p, 'retry');
    return { outcome, partitions };
  }

  /** Keys the plan held back for another creator: counted and logged when they start being held. */
  #noteHeld(plan: Plan): void {
    for (const d of plan.dropped) {
      if (d.reason !== 'foreign-indicator' || this.#held.has(d.key)) continue;
      this.#held.add(d.key);
      this.#m.foreignHolds.inc();
      const holders = this.#foreign?.holders(d.key) ?? [];
      this.#log.info({ key: d.key, holders }, 'held back: another creator holds this value + type in Defender (foreign-indicator); re-checked at the next listing');
    }
    this.#m.foreignHeld.set(this.#held.size);
  }

  /**
   * Pending keys are planned again after a pause: items that failed for an unknown reason (bounded by
   * WRITER_ITEM_MAX_ATTEMPTS), or a round that had no valid lease.
   */
  #maintainLater(): void {
    if (this.#itemRetryTimer !== undefined || this.#closed) return;
    this.#itemRetryTimer = setTimeout(() => {
      this.#itemRetryTimer = undefined;
      void this.#exclusive(() => this.#maintain());
    }, this.#cfg.retryPauseMs).unref();
  }

  /**
   * An import's per-item outcome, checked: the id of another creator's indicator never becomes ours
   * (the key is held back from now on); an unknown failure counts an attempt and, at the bound,
   * becomes permanent (dead-lettered with Defender's text).
   */
  #checkOutcome(key: string, hash: string, o: ImportOutcome): ImportOutcome {
    if (o.ok) {
      this.#itemAttempts.delete(key);
      if (!this.#foreign?.isForeignId(o.id)) return o;
      this.#foreign.hold(key, { id: o.id, action: 'unknown', createdBy: 'another creator' });
      this.#log.warn({ key, id: o.id }, 'Defender answered an import with another creator’s indicator id: not taken as ours, the key is held back');
      return { ok: false, permanent: false, category: 'foreign', reason: `Defender answered with id ${o.id}, another creator’s indicator` };
    }
    if (o.category !== 'unknown' || o.permanent) return o;
    const prev = this.#itemAttempts.get(key);
    const n = prev?.hash === hash ? prev.n + 1 : 1;
    if (n < this.#cfg.itemMaxAttempts) {
      this.#itemAttempts.set(key, { hash, n });
      this.#log.warn({ key, attempt: n, reason: o.reason }, 'Defender refused an item for an unknown reason; retried later');
      return o;
    }
    this.#itemAttempts.delete(key);
    return { ...o, permanent: true, reason: `${o.reason} (after ${n} attempts)` };
  }

  #partitionOf(key: string): number {
    return partitionForKey(key, this.#partitionCount);
  }

  /**
   * One partition's transaction through its own producer, under the lease. `lost`: the lease ended
   * or the producer was fenced (the partition is dropped, the process carries on); `retry`: another
   * Kafka failure (nothing committed).
   */
  async #commit(partition: number, records: readonly OutgoingRecord[], offsets: readonly TopicPartitionOffset[], call: CallOptions): Promise<Applied> {
    if (records.length === 0 && offsets.length === 0) return 'ok';
    const producer = this.#producers.get(partition);
    if (!producer || !this.#parts.has(partition)) return 'lost';
    try {
      call.guard?.();
    } catch {
      return 'lost';
    }
    try {
      await producer.transaction(async (tx) => {
        if (records.length > 0) await tx.send(records);
        if (offsets.length > 0) await tx.sendOffsets(this.#cfg.consumerGroup, offsets);
      });
      return 'ok';
    } catch (err) {
      if (err instanceof ProducerFencedError) {
        await this.#lose(partition);
        return 'lost';
      }
      this.#log.error({ err, partition }, 'writing to Kafka failed; nothing committed for the partition, retrying after a pause');
      return 'retry';
    }
  }

  /** The plan's Defender calls; undefined when they failed transiently (nothing to commit), `lost` when the lease ended. */
  async #send(plan: Plan, call: CallOptions): Promise<Sent | 'lost' | undefined> {
    const sent = { imported: new Map<string, ImportOutcome>(), deletedIds: new Set<string>(), refusedDeletes: [] as RefusedDelete[] };
    // An id Defender refuses to delete on its own is refused every time: it counts as gone (else it
    // would be planned again in every batch) and its key is dead-lettered with Defender's reason.
    // Another creator's id is never sent (the plan does not plan it; this is the last guard).
    const remove = async (c: readonly PlannedDelete[]): Promise<void> => {
      const ids = c.filter((d) => !this.#foreign?.isForeignId(d.id)).map((d) => d.id);
      if (ids.length < c.length) this.#log.warn({ skipped: c.length - ids.length }, 'another creator’s ids left out of a BatchDelete');
      const { rejected } = await this.#client.batchDelete(ids, call);
      for (const d of c) sent.deletedIds.add(d.id);
      if (this.#capRefusal) this.#capRefusal.deletedSince += ids.length - rejected.length;
      for (const r of rejected) sent.refusedDeletes.push({ key: c.find((x) => x.id === r.id)?.key ?? '', id: r.id, reason: r.reason });
    };
    // The deletes go first only when the imports need the room they free; otherwise they share the
    // replaced ids' BatchDelete calls.
    const lookup = (key: string): KeyState | undefined => this.#store.get(key);
    const held = this.#store.appliedCount();
    const first = plan.deletes.length > 0 && deletesFirst(plan, held, this.#cap.capacity, lookup);
    const replaced = replacedFirst(plan, held, this.#cap.capacity, first, lookup);
    try {
      if (first) for (const c of plan.deletes) await remove(c);
      for (const c of chunk(replaced)) await remove(c);
      for (const planned of plan.imports) {
        // What another creator added since the last look is never imported over: such items are left
        // out (no outcome: they stay pending, and the next plan holds them back).
        // The look comes right before the call: the import's own quota wait is spent first. Every
        // chunk is checked against the index (a look before an earlier chunk may have found its keys).
        await this.#client.quotaReady('import');
        await this.#checkForeign(call);
        const c = planned.filter((p) => !this.#foreign?.holds(p.key));
        if (c.length < planned.length) {
          this.#log.info({ keys: planned.filter((p) => !c.includes(p)).map((p) => p.key).slice(0, 20), count: planned.length - c.length }, 'left out of an import: another creator added the value + type since the last listing');
          // The next round holds them back (and deletes an indicator of ours on their value + type).
          this.#maintainLater();
        }
        if (c.length === 0) continue;
        const out = await this.#client.import(c.map((p) => p.indicator), call);
        c.forEach((p, i) => {
          const o = out[i];
          if (o) sent.imported.set(p.key, this.#checkOutcome(p.key, p.hash, o));
        });
      }
      const after = replacementDeletes(plan, sent.imported).flat().filter((d) => !sent.deletedIds.has(d.id));
      for (const c of chunk(first ? after : [...plan.deletes.flat(), ...after])) await remove(c);
    } catch (err) {
      if (err instanceof DefenderCallCancelledError) {
        this.#log.warn({ reason: (err.cause as Error | undefined)?.message }, 'Defender calls stopped: the group lease ended; nothing committed');
        return 'lost';
      }
      if (!(err instanceof DefenderClientClosedError)) this.#log.warn({ err, breaker: this.#client.breakerState }, 'Defender call failed; batch not committed, consumption paused');
      return undefined;
    }
    const capRefused = [...sent.imported.values()].filter((o) => !o.ok && o.category === 'cap');
    if (capRefused.length > 0) this.#refusedAtCap(capRefused);
    // Throttling holds the whole batch back; other transient items only their key (pending).
    const transient = [...sent.imported.values()].filter((o) => !o.ok && !o.permanent && o.category !== 'foreign' && blocksBatch(o.category));
    if (transient.length > 0) {
      this.#log.warn({ items: transient.length, reason: transient[0] && !transient[0].ok ? transient[0].reason : undefined }, 'Defender refused items transiently; batch not committed, consumption paused');
      return undefined;
    }
    return sent;
  }

  /**
   * Defender refused creates at the tenant's limit: not a failure of the batch (the rest commits, the
   * refused keys stay pending) but news about the room. The tenant is listed again before the next
   * write (what the others hold, the limit Defender enforces: `#useListing`), and the next plan keeps
   * the strongest keys in the smaller room. Our orphans (sent by an attempt whose commit was lost)
   * also take room: a reconciliation removes them, at most once a minute.
   */
  #refusedAtCap(refused: readonly ImportOutcome[]): void {
    this.#m.capRefusals.inc(refused.length);
    const reason = refused.map((o) => (o.ok ? '' : o.reason)).find((r) => r !== '') ?? '';
    const named = limitFromRefusal(reason);
    const before = this.#capRefusal?.limit;
    this.#capRefusal = { limit: named === undefined ? before : before === undefined ? named : Math.min(named, before), deletedSince: this.#capRefusal?.deletedSince ?? 0 };
    this.#refusedSinceReconcile = true;
    this.#foreignStale = true;
    this.#log.warn({ items: refused.length, reason, limit: named, room: this.#cap.capacity }, 'Defender refused creates at the tenant’s limit of active indicators; re-listing the tenant and re-planning with the room left');
    if (this.#now() - this.#lastCapReconcile > 60_000) {
      this.#lastCapReconcile = this.#now();
      this.#reconciler.runNow().catch((err: unknown) => this.#log.warn({ err }, 'reconciliation after the tenant cap was reached failed'));
    }
  }

  /**
   * Before an import: when the last look at other creators' indicators is older than
   * WRITER_FOREIGN_CHECK_MS / share (the tenant's writers together look at most once per interval,
   * within the list quota shared with reconciliation), lists what they added since. Returns whether
   * anything new was found (the caller then leaves their values + types out of the import).
   */
  #foreignCheckDue(): boolean {
    const share = this.#share();
    return this.#foreign !== undefined && this.#cfg.foreignCheckMs > 0 && share > 0 && this.#now() - this.#foreignCheckedAt >= this.#cfg.foreignCheckMs / share;
  }

  async #checkForeign(call: CallOptions): Promise<void> {
    const index = this.#foreign;
    if (!index || !this.#foreignCheckDue()) return;
    // Never an import held back for a look: when other listings spent the list quota, the look waits
    // for the next import (the window widens by one, and the metric says so).
    if (this.#client.quotaWaitMs('list') > 0) {
      this.#m.foreignChecks.inc({ outcome: 'deferred' });
      return;
    }
    let added: number;
    try {
      added = await listForeignSince(this.#client, this.#cfg.clientId, index, this.#now(), { byCreator: !this.#lookByTimeOnly }, call);
    } catch (err) {
      if (this.#lookByTimeOnly || !(err instanceof DefenderHttpError) || err.statusCode !== 400) throw err;
      this.#lookByTimeOnly = true;
      this.#log.warn({ err }, 'Defender refused the look’s creator filter (createdBy ne …); looks filter by creation time only from now on');
      added = await listForeignSince(this.#client, this.#cfg.clientId, index, this.#now(), { byCreator: false }, call);
    }
    this.#foreignCheckedAt = this.#now();
    this.#m.foreignChecks.inc({ outcome: added > 0 ? 'found' : 'clear' });
    if (added > 0) this.#log.info({ added }, 'other creators added indicators since the last look: their values + types are held back');
  }

  #pauseAll(): void {
    const c = this.#consumer;
    if (!c || this.#closed) return;
    const assigned = c.assignment();
    if (assigned.length > 0) c.pause(assigned);
    this.#m.paused.set(1);
  }

  /** Pauses every partition; resumes on the breaker's halfOpen/close, or after a backoff if it stays closed. */
  #suspend(): void {
    if (this.#closed) return;
    this.#suspended = true;
    this.#pauseAll();
    this.#failures++;
    clearTimeout(this.#resumeTimer);
    if (this.#client.breakerState === 'open') return;
    // A Retry-After is honoured in full: no call before it has passed.
    const delay = Math.max(this.#client.throttledForMs(), Math.min(60_000, this.#cfg.retryPauseMs * 2 ** Math.min(10, this.#failures - 1)));
    if (delay >= 60_000) this.#log.info({ resumeInMs: Math.round(delay) }, 'consumption paused until Defender’s Retry-After has passed');
    this.#resumeTimer = setTimeout(() => this.#resumeNow('backoff'), delay);
    this.#resumeTimer.unref();
  }

  #resumeNow(why: string): void {
    clearTimeout(this.#resumeTimer);
    const c = this.#consumer;
    if (!c || this.#closed) return;
    if (!this.#suspended && c.paused().length === 0) return;
    this.#suspended = false;
    const assigned = c.assignment();
    if (assigned.length > 0) c.resume(assigned);
    this.#m.paused.set(0);
    this.#log.info({ why }, 'consumption resumed');
    // Pending keys, and cap moves left by a bounded or failed round.
    void this.#exclusive(() => this.#maintain());
  }
}
