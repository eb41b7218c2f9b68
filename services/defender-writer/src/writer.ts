// The defender-writer component: one member of the tenant's consumer group on the commands topic.
// Per partition it keeps the KeyStates restored from the compacted state topic (partition p of the
// state topic is the changelog of commands partition p), applies each batch to Defender, then writes
// the new states, the dead letters and the consumer offsets in ONE Kafka transaction. A crash before
// that transaction replays commands whose application is idempotent; a transient Defender failure
// pauses the partitions without committing, and the same records come back after resume.
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
import { failureCategory, type DefenderClient } from './defender/client.ts';
import { DefenderClientClosedError } from './defender/errors.ts';
import type { TokenSource } from './defender/token.ts';
import { desiredFor } from './desired.ts';
import type { ClaimCommand } from './facts.ts';
import type { WriterMetrics } from './metrics.ts';
import { applyOutcomes, chunk, planBatch, replacementDeletes, type KeyState, type Plan, type PlannedDelete } from './plan.ts';
import { decodeState, encodeState, fitState, StateStore } from './state-store.ts';
import type { Policy } from './policy.ts';
import { ResyncHandler } from './resync.ts';
import { findDrift, ReconcileSchedule, type Drift } from './reconciler.ts';
import type { ImportOutcome } from './defender/model.ts';

/** The raw record kept in a dead letter is cut to this many characters. */
const MAX_DEAD_LETTER_RAW = 64 * 1024;
/** Keys a plan examines besides its commands' (10 full import calls); the rest follow in later rounds. */
const MAX_PLAN_KEYS = 5000;
/** Longest state record (JSON characters): well under the broker's default message.max.bytes (1 MiB). */
const MAX_STATE_CHARS = 256 * 1024;
/** State-topic keys starting with this are the writer's own bookkeeping, never indicator keys. */
const META_PREFIX = '__writer__/';

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
  /** Distinguishes this member's transactional id (default: host name). */
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
  #producer: TransactionalProducer | undefined;
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
    this.#instanceId = deps.instanceId ?? hostname();
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
    return { ok: true, detail: `${this.#parts.size} partition(s)${this.#suspended ? ', paused' : ''}` };
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
    this.#producer = await this.#kafka.transactionalProducer(`${this.#cfg.consumerGroup}.${this.#instanceId}`);
    this.#consumer = await this.#kafka.consumer({
      groupId: this.#cfg.consumerGroup,
      topics: [this.#cfg.commandsTopic],
      fromBeginning: true,
      sessionTimeoutMs: this.#cfg.sessionTimeoutMs,
      maxBytesPerPartition: this.#cfg.fetchBytesPerPartition,
      heartbeatIntervalMs: Math.max(500, Math.floor(this.#cfg.sessionTimeoutMs / 10)),
      onAssigned: (partitions) => this.#exclusive(() => this.#assigned(partitions)),
      // A member with nothing assigned (more replicas than partitions) has joined too: it is ready.
      onJoined: (assignment) => {
        if (assignment.length === 0) this.#joined = true;
      },
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
    this.#log.info({ group: this.#cfg.consumerGroup, topic: this.#cfg.commandsTopic, stateTopic: this.#cfg.stateTopic, partitions: this.#partitionCount, dryRun: this.#cfg.dryRun }, 'writer started');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#lagTimer);
    clearTimeout(this.#tokenTimer);
    clearTimeout(this.#resumeTimer);
    clearTimeout(this.#catchUpTimer);
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
    await this.#producer?.close().catch((err: unknown) => this.#log.warn({ err }, 'closing the producer failed'));
    this.#store.close();
  }

  /** Compares Defender with the owned partitions' state and repairs the drift. */
  reconcile(): Promise<Drift | undefined> {
    return this.#exclusive(async () => {
      if (this.#closed || this.#parts.size === 0) return undefined;
      // Mid catch-up the state is ahead of Defender on purpose: the sync at its end repairs it.
      if (this.#catchUpSince !== undefined) {
        this.#log.info('reconciliation skipped: catching up with a backlog');
        return undefined;
      }
      try {
        const drift = await this.#reconcileLocked();
        this.#m.reconciles.inc({ outcome: 'ok' });
        return drift;
      } catch (err) {
        this.#m.reconciles.inc({ outcome: 'failed' });
        throw err;
      }
    });
  }

  async #reconcileLocked(): Promise<Drift> {
    const view = { partitionCount: this.#partitionCount, ownedPartitions: () => this.ownedPartitions(), states: () => this.#store.inDefender() };
    const drift = await findDrift(this.#client, { application: this.#cfg.application, clientId: this.#cfg.clientId }, view, this.#now());
    this.#m.drift.set({ kind: 'missing' }, drift.missing.length);
    this.#m.drift.set({ kind: 'orphaned' }, drift.orphaned.length);
    this.#log.info({ listed: drift.listed, foreign: drift.foreign, missing: drift.missing.length, orphaned: drift.orphaned.length, dryRun: this.#cfg.dryRun }, 'reconciliation');
    for (const ids of chunk(drift.orphaned.map((o) => o.id))) {
      const { rejected } = await this.#client.batchDelete(ids);
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
    if (drift.missing.length > 0) {
      const ok = await this.#apply([], []);
      if (!ok) throw new Error('re-importing missing indicators failed transiently; they stay pending');
      this.#m.repairs.inc({ kind: 'missing' }, drift.missing.length);
    }
    return drift;
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
        { commandsTopic: this.#cfg.commandsTopic, dlqTopic: this.#cfg.dlqTopic, stateTopicTemplate: '{tenant}', ...(commandsPartitions ? { commandsPartitions } : {}) },
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
    try {
      for (const l of (await this.#consumer?.lag()) ?? []) {
        if (this.#parts.has(l.partition)) this.#m.lag.set({ partition: String(l.partition) }, Number(l.lag));
        else this.#m.lag.remove({ partition: String(l.partition) });
      }
    } catch (err) {
      this.#log.debug({ err }, 'consumer lag not measured');
    }
  }

  #updateShare(): void {
    const share = this.#parts.size / Math.max(1, this.#partitionCount);
    if (share > 0) this.#client.setShare(share);
    this.#cap.setCapacity(Math.floor(this.#cfg.maxIndicators * share));
    this.#m.capCapacity.set(this.#cap.capacity);
    this.#m.assigned.set(this.#parts.size);
  }

  #updateOwned(): void {
    this.#m.owned.set(this.#store.appliedCount());
  }

  async #assigned(partitions: readonly TopicPartition[]): Promise<void> {
    const now = this.#now();
    for (const { partition } of partitions) {
      if (this.#parts.has(partition)) continue;
      const part: Partition = { nextOffset: 0n, behind: 0n, behindAt: now };
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
    this.#updateShare();
    this.#updateOwned();
    // Settle the cap with the new capacity and retry pending keys, even if no command arrives.
    void this.#exclusive(() => this.#maintain());
  }

  #revoked(partitions: readonly TopicPartition[]): Promise<void> {
    for (const { partition } of partitions) {
      const part = this.#parts.get(partition);
      if (!part) continue;
      this.#store.dropPartition(partition);
      this.#cap.dropPartition(partition);
      for (const key of this.#pending) if (partitionForKey(key, this.#partitionCount) === partition) this.#pending.delete(key);
      this.#parts.delete(partition);
      this.#m.lag.remove({ partition: String(partition) });
    }
    this.#log.info({ partitions: partitions.map((p) => p.partition) }, 'partitions revoked; their state dropped');
    this.#updateShare();
    this.#updateOwned();
    return Promise.resolve();
  }

  /** A plan without commands: cap moves and pending keys. */
  async #maintain(): Promise<void> {
    // While catching up, the sync at its end plans everything once.
    if (this.#closed || this.#suspended || this.#parts.size === 0 || this.#catchUpSince !== undefined) return;
    try {
      const ok = await this.#apply([], []);
      if (!ok) this.#suspend();
    } catch (err) {
      this.#log.error({ err }, 'maintenance round failed');
    }
  }

  async #onBatch(batch: Batch): Promise<void> {
    await this.#exclusive(async () => {
      const part = this.#parts.get(batch.partition);
      // Not resolving = the records come back after resume or go to the partition's new owner.
      if (this.#suspended || this.#closed || batch.isStale() || !part) return;
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
      let ok: boolean;
      try {
        part.behind = batch.highWatermark - next;
        part.behindAt = this.#now();
        ok = await this.#apply(commands, deadLetters, [{ topic: batch.topic, partition: batch.partition, offset: next }], this.#deferring());
      } catch (err) {
        // A fenced producer means another member took over this transactional id: stop for good.
        if (err instanceof ProducerFencedError) {
          this.#failed = err;
          throw err;
        }
        this.#log.error({ err, partition: batch.partition }, 'writing the batch to Kafka failed; nothing committed, retrying after a pause');
        ok = false;
      }
      if (!ok) {
        this.#m.batches.inc({ outcome: 'retry' });
        this.#suspend();
        return;
      }
      for (const c of commands) this.#m.commands.inc({ op: c.op });
      this.#m.batches.inc({ outcome: 'applied' });
      part.nextOffset = next;
      batch.resolveOffset(batch.lastOffset);
    });
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
    if (this.#cfg.catchUpLag > 0 && behind > BigInt(this.#cfg.catchUpLag)) {
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
   * Plans, calls Defender, then commits states + dead letters (+ offsets) in one transaction and only
   * then updates memory. Returns false on a transient Defender failure: nothing written, nothing
   * committed, memory untouched (the caller replays). `defer`: no Defender call, the state only
   * (catching up; the sync after it finds the keys to send).
   */
  async #apply(commands: readonly ClaimCommand[], deadLetters: readonly OutgoingRecord[], offsets: readonly TopicPartitionOffset[] = [], defer = false): Promise<boolean> {
    const lookup = (key: string): KeyState | undefined => this.#store.get(key);
    const now = this.#now();
    const pending = defer ? [] : [...this.#pending].filter((k) => this.#parts.has(partitionForKey(k, this.#partitionCount)));
    // One local transaction for the cap's many small writes.
    const plan = this.#store.transaction(() => planBatch({ commands, lookup, policy: this.#policy, cap: this.#cap, now, pending, touchedOnly: defer, maxKeys: MAX_PLAN_KEYS }));
    let sent: Sent = NOTHING_SENT;
    if (!defer) {
      const out = await this.#send(plan);
      if (!out) return false;
      sent = out;
    }
    const { imported, deletedIds, refusedDeletes } = sent;
    if (!defer && this.#cfg.dryRun && (plan.deletes.length > 0 || plan.imports.length > 0)) {
      this.#log.info({ dryRun: true, imports: plan.imports.flat().length, deletes: plan.deletes.flat().length, dropped: plan.dropped.length, unchanged: plan.unchanged.length }, 'dry run: plan');
    }
    const result = this.#store.transaction(() => applyOutcomes(plan, { imported, deletedIds }, lookup, this.#cap));
    const records: OutgoingRecord[] = [...deadLetters];
    const at = new Date(now).toISOString();
    const toStore = new Map<string, { state: KeyState; value: string } | null>();
    for (const [key, s] of result.states) {
      // Unchanged (a replay, or re-planned and still in sync): the changelog already holds it.
      if (s === lookup(key) && !this.#unsaved.has(key)) continue;
      if (!s) {
        toStore.set(key, null);
        records.push({ topic: this.#cfg.stateTopic, key, value: null });
        continue;
      }
      let state = s;
      let value = encodeState(s);
      if (value.length > MAX_STATE_CHARS) {
        const fitted = fitState(s, MAX_STATE_CHARS);
        const sources = fitted.dropped.map((c) => c.sourceId);
        records.push(this.#deadLetter({ key, reason: 'too_many_claims', detail: `${sources.length} weakest claims dropped to fit one state record: ${sources.slice(0, 20).join(', ')}${sources.length > 20 ? ', …' : ''}`, at }));
        state = fitted.state;
        value = encodeState(state);
      }
      toStore.set(key, { state, value });
      records.push({ topic: this.#cfg.stateTopic, key, value });
    }
    for (const r of result.rejected) {
      records.push(this.#deadLetter({ key: r.key, reason: 'defender_rejected', detail: r.reason, at }));
    }
    for (const r of refusedDeletes) {
      records.push(this.#deadLetter({ key: r.key, reason: 'defender_delete_rejected', detail: `id ${r.id}: ${r.reason}`, at }));
    }
    for (const o of offsets) {
      records.push({ topic: this.#cfg.stateTopic, key: appliedOffsetKey(o.partition, this.#partitionCount), value: JSON.stringify({ next: o.offset.toString() }) });
    }
    if (records.length > 0 || offsets.length > 0) {
      const producer = this.#producer;
      if (!producer) throw new Error('writer not started');
      try {
        await producer.transaction(async (tx) => {
          if (records.length > 0) await tx.send(records);
          if (offsets.length > 0) await tx.sendOffsets(this.#cfg.consumerGroup, offsets);
        });
      } catch (err) {
        // The cap already counts this plan's outcomes as done (confirmed admissions): re-plan its keys.
        for (const k of plan.keys) this.#pending.add(k);
        throw err;
      }
    }
    for (const key of toStore.keys()) this.#unsaved.delete(key);
    this.#store.transaction(() => {
      for (const [key, v] of toStore) {
        if (v) this.#store.put(key, v.state, v.value);
        else this.#store.delete(key);
      }
    });
    if (!defer) {
      const examined = new Set(plan.keys);
      for (const k of examined) this.#pending.delete(k);
      for (const k of result.pending) this.#pending.add(k);
      if (plan.remaining > 0) void this.#exclusive(() => this.#maintain());
    }
    this.#failures = 0;
    this.#updateOwned();
    return true;
  }

  /** The plan's Defender calls; undefined when they failed transiently (nothing to commit). */
  async #send(plan: Plan): Promise<Sent | undefined> {
    const sent = { imported: new Map<string, ImportOutcome>(), deletedIds: new Set<string>(), refusedDeletes: [] as RefusedDelete[] };
    // An id Defender refuses to delete on its own is refused every time: it counts as gone (else it
    // would be planned again in every batch) and its key is dead-lettered with Defender's reason.
    const remove = async (c: readonly PlannedDelete[]): Promise<void> => {
      const { rejected } = await this.#client.batchDelete(c.map((d) => d.id));
      for (const d of c) sent.deletedIds.add(d.id);
      for (const r of rejected) sent.refusedDeletes.push({ key: c.find((x) => x.id === r.id)?.key ?? '', id: r.id, reason: r.reason });
    };
    try {
      for (const c of plan.deletes) await remove(c);
      for (const c of plan.imports) {
        const out = await this.#client.import(c.map((p) => p.indicator));
        c.forEach((p, i) => {
          const o = out[i];
          if (o) sent.imported.set(p.key, o);
        });
      }
      for (const c of replacementDeletes(plan, sent.imported)) await remove(c);
    } catch (err) {
      if (!(err instanceof DefenderClientClosedError)) this.#log.warn({ err, breaker: this.#client.breakerState }, 'Defender call failed; batch not committed, consumption paused');
      return undefined;
    }
    const transient = [...sent.imported.values()].filter((o) => !o.ok && !o.permanent);
    if (transient.length > 0) {
      // Defender's tenant cap reached: ours may hold orphans (applied by an attempt whose commit was
      // lost) or another tool filled it. A reconciliation removes our orphans; at most once a minute.
      if (transient.some((o) => !o.ok && failureCategory(o.reason) === 'cap') && this.#now() - this.#lastCapReconcile > 60_000) {
        this.#lastCapReconcile = this.#now();
        this.#reconciler.runNow().catch((err: unknown) => this.#log.warn({ err }, 'reconciliation after the tenant cap was reached failed'));
      }
      this.#log.warn({ items: transient.length, reason: transient[0] && !transient[0].ok ? transient[0].reason : undefined }, 'Defender refused items transiently; batch not committed, consumption paused');
      return undefined;
    }
    return sent;
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
    const delay = Math.min(60_000, this.#cfg.retryPauseMs * 2 ** Math.min(10, this.#failures - 1));
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
