// The defender-writer component: one member of the tenant's consumer group on the commands topic.
// Per partition it keeps the KeyStates restored from the compacted state topic (partition p of the
// state topic is the changelog of commands partition p), applies each batch to Defender, then writes
// the new states, the dead letters and the consumer offsets in one Kafka transaction per partition,
// through that partition's own transactional producer (its next owner's fences it). A crash before
// that transaction replays commands whose application is idempotent; a transient Defender failure
// pauses the partitions without committing, and the same records come back after resume. Every
// Defender call and every commit is made under the member's lease.
//
// This file orchestrates the units (README "Layout"): partition tasks, the round, flow control,
// catch-up, the lease, the tenant view and repairs. Batches, rebalances, rounds and reconciliations
// are serialized by one lock: they all read and write the states.
import { deadLetterRecord, partitionForKey, type Consumer, type DeadLetterInput, type Kafka } from '@octi-defender/kafka';
import { backoffDelay, instanceIdentity, type Logger } from '@octi-defender/platform';
import { CapIndex } from './state/cap.ts';
import { policyFromConfig, type WriterConfig } from './config.ts';
import type { DefenderClient } from './defender/client.ts';
import type { TokenSource } from './defender/token.ts';
import type { WriterMetrics } from './metrics.ts';
import type { KeyState } from './core/plan.ts';
import type { Drift } from './core/drift.ts';
import { ReconcileSchedule } from './tasks/reconcile-schedule.ts';
import { reconcileOnce } from './tasks/reconciliation.ts';
import { ResyncHandler } from './core/resync.ts';
import { KeyTracking } from './state/key-tracking.ts';
import { StateStore } from './state/state-store.ts';
import { CatchUp } from './tasks/catch-up.ts';
import { BatchIntake } from './tasks/intake.ts';
import { FlowControl } from './tasks/flow-control.ts';
import { Lease } from './tasks/lease.ts';
import { PartitionTasks } from './tasks/partition-tasks.ts';
import { Repairs } from './tasks/repairs.ts';
import { appliedOffsetKey } from './tasks/restore.ts';
import { Assignment } from './tasks/assignment.ts';
import { Round, type Applied, type RoundInput } from './tasks/round.ts';
import { TenantView } from './tasks/tenant-view.ts';
import { ensureWriterTopics } from './tasks/topics.ts';

interface WriterDeps {
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
  readonly #now: () => number;
  readonly #instanceId: string;
  readonly #store: StateStore;
  readonly #cap: CapIndex;
  readonly #keys: KeyTracking;
  readonly #resync: ResyncHandler;
  readonly #tasks: PartitionTasks;
  readonly #lease: Lease;
  readonly #tenant: TenantView;
  readonly #flow: FlowControl;
  readonly #catchUp: CatchUp;
  readonly #repairs: Repairs;
  readonly #round: Round;
  readonly #reconciler: ReconcileSchedule;
  readonly #reconcileOnce: () => Promise<Drift>;
  readonly #intake: BatchIntake;
  readonly #assignment: Assignment;
  #partitionCount = 0;
  #consumer: Consumer | undefined;
  #lock: Promise<unknown> = Promise.resolve();
  #joined = false;
  #tokenOk = false;
  #closed = false;
  /** Set when the consumer stopped for good: the process is no longer live. */
  #failed: Error | undefined;
  #lagTimer: NodeJS.Timeout | undefined;
  /** The lag measurement in flight: close() waits for it, else its admin reconnects after the close. */
  #lagRun: Promise<void> | undefined;
  #tokenTimer: NodeJS.Timeout | undefined;
  /** The round planned again after a pause (items failed transiently, or no valid lease). */
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #onBreakerOpen = (): void => this.#flow.breakerOpened();
  readonly #onBreakerHalfOpen = (): void => this.#flow.breakerHalfOpen();
  readonly #onBreakerClose = (): void => this.#flow.breakerClosed();

  constructor(cfg: WriterConfig, deps: WriterDeps) {
    this.#cfg = cfg;
    this.#kafka = deps.kafka;
    this.#client = deps.client;
    this.#tokens = deps.tokens;
    this.#log = deps.logger;
    this.#m = deps.metrics;
    this.#now = deps.now ?? Date.now;
    this.#instanceId = deps.instanceId ?? instanceIdentity();
    const partitionOf = (key: string): number => partitionForKey(key, this.#partitionCount);
    this.#store = new StateStore({ dir: cfg.stateDir, cacheBytes: cfg.stateCacheMb * 2 ** 20, partitionOf });
    this.#cap = new CapIndex(0, { db: this.#store.db, partitionOf });
    this.#keys = new KeyTracking(partitionOf);
    this.#resync = new ResyncHandler({ claimsOf: (key) => this.#store.get(key)?.claims ?? [], keysOf: (partition) => this.#store.keys(partition) });
    this.#tasks = new PartitionTasks(this.#kafka, cfg.consumerGroup, this.#log);
    this.#lease = new Lease(() => this.#consumer?.leaseRemainingMs() ?? 0);
    this.#reconciler = new ReconcileSchedule(() => this.reconcile(), cfg.reconcileIntervalMs, this.#log);
    // What every unit may use: the shared state, the client, the lease, the lock.
    const ctx = {
      cfg,
      kafka: this.#kafka,
      client: this.#client,
      store: this.#store,
      cap: this.#cap,
      keys: this.#keys,
      resync: this.#resync,
      tasks: this.#tasks,
      lease: this.#lease,
      policy: policyFromConfig(cfg),
      metrics: this.#m,
      logger: this.#log,
      now: this.#now,
      partitionOf,
      partitionCount: () => this.#partitionCount,
      exclusive: <T>(fn: () => Promise<T>) => this.#exclusive(fn),
      closed: () => this.#closed,
      maintain: () => this.#maintain(),
      run: (input: RoundInput) => this.#run(input),
      deadLetter: (letter: Omit<DeadLetterInput, 'origin'>) => deadLetterRecord(cfg.dlqTopic, { origin: 'defender-writer', ...letter }),
    };
    const reconcileNow = (): void => void this.#reconciler.runNow().catch((err: unknown) => this.#log.warn({ err }, 'reconciliation after the tenant cap was reached failed'));
    this.#tenant = new TenantView({ ...ctx, reconcileNow });
    this.#repairs = new Repairs(() => this.#reconciler.runNow(), this.#m, this.#log);
    this.#flow = new FlowControl({
      pauseAll: () => this.#setPaused(true),
      resumeAll: () => this.#setPaused(false),
      breakerOpen: () => this.#client.breakerState === 'open',
      throttledForMs: () => this.#client.throttledForMs(),
      backoffMs: (failures) => backoffDelay({ baseMs: cfg.retryPauseMs, maxMs: 60_000, jitter: 'none', maxDoublings: 10 }, failures - 1),
      resumed: (why) => {
        this.#log.info({ why, mode: this.#flow.mode }, 'consumption resumed');
        void this.#exclusive(() => this.#maintain());
      },
      changed: (_from, _to, { delayMs }) => {
        if (delayMs !== undefined && delayMs >= 60_000) this.#log.info({ resumeInMs: Math.round(delayMs) }, 'consumption paused until Defender’s Retry-After has passed');
      },
    });
    this.#catchUp = new CatchUp({
      lag: cfg.catchUpLag,
      maxMs: cfg.catchUpMaxMs,
      ended: () => {
        for (const [key] of this.#store.inDefender()) this.#keys.pending.add(key);
        this.#log.info({ pending: this.#keys.pending.size }, 'caught up with the backlog: syncing Defender');
        this.#repairs.catchUpEnded();
      },
      expired: () => void this.#exclusive(() => (this.#catchUp.end() ? this.#maintain() : Promise.resolve())),
    });
    const units = { ...ctx, tenant: this.#tenant, flow: this.#flow, catchUp: this.#catchUp, repairs: this.#repairs };
    this.#round = new Round({ ...units, offsetKey: (p) => appliedOffsetKey(p, this.#partitionCount) });
    this.#intake = new BatchIntake(units);
    this.#assignment = new Assignment({ ...units, consumer: () => this.#consumer, joined: () => void (this.#joined = true), ownershipChanged: () => this.#ownershipChanged() });
    this.#reconcileOnce = () => reconcileOnce(units);
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
    return { ok: true, detail: `${this.#tasks.ownedCount} partition(s)${this.#flow.consuming ? '' : ', paused'}; ${this.#tenant.detail()}` };
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
    return this.#tasks.owned();
  }

  /** The state of a key of an owned partition (for tests and the reconciler). */
  state(key: string): KeyState | undefined {
    if (!this.#tasks.owns(partitionForKey(key, this.#partitionCount))) return undefined;
    return this.#store.get(key);
  }

  async start(): Promise<void> {
    this.#partitionCount = await ensureWriterTopics(this.#kafka, this.#cfg, this.#log);
    this.#checkToken();
    this.#client.on('open', this.#onBreakerOpen);
    this.#client.on('halfOpen', this.#onBreakerHalfOpen);
    this.#client.on('close', this.#onBreakerClose);
    this.#consumer = await this.#kafka.consumer({
      groupId: this.#cfg.consumerGroup,
      topics: [this.#cfg.commandsTopic],
      fromBeginning: true,
      sessionTimeoutMs: this.#cfg.sessionTimeoutMs,
      maxBytesPerPartition: this.#cfg.fetchBytesPerPartition,
      // The batches of one fetch are delivered together, so that all but the last join it (Mode `join`).
      partitionsConsumedConcurrently: Math.max(1, this.#partitionCount),
      onAssigned: (partitions) => this.#exclusive(() => this.#assignment.assigned(partitions)),
      onJoined: (assignment) => {
        // A member with nothing assigned (more replicas than partitions) has joined too: it is ready.
        if (assignment.length === 0) this.#joined = true;
        // A partition dropped after its producer was fenced but kept by this join is restored again.
        if (this.#tasks.anyFenced) this.#assignment.retakeSoon();
      },
      onLeaseLost: (reason) => this.#lease.lose(reason),
      onRevoked: (partitions) => this.#exclusive(() => this.#assignment.revoked(partitions.map((p) => p.partition))),
      onFailed: (err) => {
        this.#failed = err;
        this.#log.error({ err }, 'the consumer stopped for good; reporting not live so that the writer is restarted');
      },
    });
    await this.#consumer.run((batch) => this.#intake.onBatch(batch));
    this.#lagTimer = setInterval(() => {
      if (this.#closed || this.#lagRun) return;
      this.#lagRun = this.#measureLag().finally(() => {
        this.#lagRun = undefined;
      });
    }, this.#cfg.lagIntervalMs);
    this.#lagTimer.unref();
    this.#reconciler.start();
    this.#log.info({
      group: this.#cfg.consumerGroup,
      topic: this.#cfg.commandsTopic,
      stateTopic: this.#cfg.stateTopic,
      partitions: this.#partitionCount,
      dryRun: this.#cfg.dryRun,
      instance: this.#instanceId,
    }, 'writer started');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#lagTimer);
    clearTimeout(this.#tokenTimer);
    clearTimeout(this.#retryTimer);
    this.#flow.close();
    this.#catchUp.close();
    this.#lease.close();
    this.#repairs.close();
    await this.#reconciler.stop();
    this.#client.off('open', this.#onBreakerOpen);
    this.#client.off('halfOpen', this.#onBreakerHalfOpen);
    this.#client.off('close', this.#onBreakerClose);
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
    await this.#tasks.closeAll();
    this.#store.close();
  }

  /** Compares Defender with the owned partitions' state and repairs the drift. */
  reconcile(): Promise<Drift | undefined> {
    return this.#exclusive(async () => {
      const asked = this.#repairs.asked;
      if (this.#closed) return undefined;
      if (this.#tasks.ownedCount === 0) {
        this.#repairs.covered(asked);
        return undefined;
      }
      // Mid catch-up the state is ahead of Defender on purpose: the sync at its end repairs it.
      if (this.#catchUp.active) {
        this.#log.info('reconciliation skipped: catching up with a backlog; it runs when the catch-up ends');
        this.#repairs.putOff();
        return undefined;
      }
      try {
        const drift = await this.#reconcileOnce();
        this.#m.reconciles.inc({ outcome: 'ok' });
        this.#repairs.covered(asked);
        return drift;
      } catch (err) {
        this.#m.reconciles.inc({ outcome: 'failed' });
        throw err;
      }
    });
  }

  /** Serializes batches, rebalances and reconciliations: they all read and write the states. */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn);
    this.#lock = run.catch(() => undefined);
    return run;
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
    this.#tenant.countWaiting();
    try {
      for (const l of (await this.#consumer?.lag()) ?? []) {
        if (this.#tasks.owns(l.partition)) this.#m.lag.set({ partition: String(l.partition) }, Number(l.lag));
        else this.#m.lag.remove({ partition: String(l.partition) });
      }
    } catch (err) {
      this.#log.debug({ err }, 'consumer lag not measured');
    }
  }

  /** The room follows the share of partitions owned; owned indicators and assigned partitions are reported. */
  #ownershipChanged(): void {
    this.#tenant.applyRoom(this.#tasks.ownedCount / Math.max(1, this.#partitionCount));
    this.#m.assigned.set(this.#tasks.ownedCount);
    this.#m.owned.set(this.#store.appliedCount());
  }

  #setPaused(paused: boolean): void {
    const c = this.#consumer;
    if (!c || this.#closed) return;
    const assigned = c.assignment();
    if (assigned.length > 0) {
      if (paused) c.pause(assigned);
      else c.resume(assigned);
    }
    this.#m.paused.set(paused ? 1 : 0);
  }

  /** One round, then what follows from it: fenced partitions dropped, more rounds, a retry after a pause. */
  async #run(input: RoundInput): Promise<{ outcome: Applied; complete: boolean; partitions: ReadonlyMap<number, Applied> }> {
    const r = await this.#round.run(input);
    if (r.fenced.length > 0) await this.#assignment.fenced(r.fenced);
    if (r.stale.length > 0) await this.#assignment.reload(r.stale);
    if (r.outcome === 'ok') this.#flow.succeeded();
    if (r.more) void this.#exclusive(() => this.#maintain());
    if (r.retryLater) this.#maintainLater();
    this.#m.owned.set(this.#store.appliedCount());
    return r;
  }

  /** A round without commands: cap moves and pending keys. */
  async #maintain(): Promise<void> {
    // While catching up, the sync at its end plans everything once.
    if (this.#closed || !this.#flow.consuming || this.#tasks.ownedCount === 0 || this.#catchUp.active) return;
    try {
      const { outcome } = await this.#run({ commands: [], batches: [], mode: 'send' });
      if (outcome === 'retry') this.#flow.failed();
      // No valid lease yet (right after a join, before the first heartbeat) or any more: pending keys
      // (a restored state ahead of Defender, folded batches) would otherwise wait for the next command.
      else if (outcome === 'lost' && this.#keys.pending.size > 0) this.#maintainLater();
    } catch (err) {
      this.#log.error({ err }, 'maintenance round failed');
    }
  }

  /** Pending keys are planned again after a pause (WRITER_RETRY_PAUSE_MS). */
  #maintainLater(): void {
    if (this.#retryTimer !== undefined || this.#closed) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      void this.#exclusive(() => this.#maintain());
    }, this.#cfg.retryPauseMs).unref();
  }
}
