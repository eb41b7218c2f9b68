// The stream-listener component: one active replica per LISTENER_GROUP_ID publishes, the others wait.
// Leadership is membership of partition 0 of the checkpoints topic in a Kafka consumer group: the
// member holding it is active; when it dies the group hands the partition to a standby. The new
// active member opens a transactional producer with the group's transactional id, which fences the
// previous one, so a stale listener cannot publish even if it has not noticed it lost the lease.
import { MarkingRegistry } from '@octi-defender/indicators';
import { topicDefinitions, ProducerFencedError, type Consumer, type Kafka, type TopicPartition, type TransactionalProducer } from '@octi-defender/kafka';
import { StateMachine, type Logger } from '@octi-defender/platform';
import { readFileSync } from 'node:fs';
import { backoffDelay } from './backoff.ts';
import { decodeCheckpoint, type Checkpoint } from './checkpoint.ts';
import { refusedOrRepeated, writeCheckpointChange, type CheckpointChange, type RewriteOutcome } from './checkpoint-change.ts';
import type { ListenerConfig } from './config.ts';
import { LISTENER_ROLES, type ListenerRole } from './listener-role.ts';
import type { ListenerMetrics } from './metrics.ts';
import { Publisher, type StreamSlot } from './publisher.ts';
import type { ResyncState } from './resync.ts';
import type { StreamReader } from './stream-reader.ts';
import { followStream } from './stream-follower.ts';

const MAX_BATCH = 2000;

/** A stream's position as the active term holds it (what the OpenCTI connector state mirrors). */
export interface StreamPosition {
  readonly streamId: string;
  /** The committed checkpoint; undefined before the first one. */
  readonly checkpoint: Checkpoint | undefined;
  /** Where the term started or reconnects from, and its recover date. */
  readonly resumeFrom: string | undefined;
  readonly recoverUntil: string | undefined;
  readonly resync: ResyncState | undefined;
}

interface ActiveTerm {
  readonly abort: AbortController;
  readonly readers: StreamReader[];
  readonly slots: StreamSlot[];
  readonly done: Promise<void>;
  producer: TransactionalProducer | undefined;
}

export class Listener {
  readonly #cfg: ListenerConfig;
  readonly #kafka: Kafka;
  readonly #log: Logger;
  readonly #metrics: ListenerMetrics;
  readonly #ca: string | undefined;
  readonly #role: StateMachine<ListenerRole>;
  #lease: Consumer | undefined;
  /** The running term: set while active, and while it stops (deactivating, closing). */
  #term: ActiveTerm | undefined;
  #transitions: Promise<void> = Promise.resolve();
  /** Operator changes under way (the term restarts for them: the replica acts for the deployment still). */
  #rewrites = 0;
  /** Aborted by close(): no term starts any more, and waits (retries, back-offs) end at once. */
  readonly #stop = new AbortController();
  #closed: Promise<void> | undefined;
  readonly #markings = new MarkingRegistry();

  constructor(cfg: ListenerConfig, deps: { kafka: Kafka; logger: Logger; metrics: ListenerMetrics }) {
    this.#cfg = cfg;
    this.#kafka = deps.kafka;
    this.#log = deps.logger;
    this.#metrics = deps.metrics;
    this.#ca = cfg.openctiCaFile ? readFileSync(cfg.openctiCaFile, 'utf8') : undefined;
    this.#role = new StateMachine({
      name: 'listener role',
      transitions: LISTENER_ROLES,
      initial: 'starting',
      // 1 from the moment the term runs until it has stopped.
      onChange: (_from, to) => {
        if (to === 'active') this.#metrics.active.set(1);
        else if (to === 'standby' || to === 'closed') this.#metrics.active.set(0);
      },
    });
  }

  get role(): ListenerRole {
    return this.#role.state;
  }

  /** Active, or restarting its term for an operator change: the replica that speaks for the deployment. */
  get acting(): boolean {
    return this.#role.state === 'active' || this.#rewrites > 0;
  }

  /** Each stream's position while active; undefined on a standby. */
  positions(): StreamPosition[] | undefined {
    if (this.#role.state !== 'active' || !this.#term) return undefined;
    return this.#term.slots.map((s) => ({ streamId: s.streamId, checkpoint: s.checkpoint, resumeFrom: s.resumeFrom, recoverUntil: s.recoverUntil, resync: s.resync }));
  }

  /**
   * An operator change of the stored positions (a replay, a resync), through the checkpoint: stops
   * the active term (its last transaction commits), writes each stream's new checkpoint as
   * `change` returns it (undefined: unchanged) and a record of `requestId`, in one transaction,
   * then starts a new term from them. `change` may refuse by throwing a RefusedChange. A request id
   * already recorded changes nothing ('duplicate'). Only the active replica acts.
   */
  rewrite(requestId: string, change: CheckpointChange): Promise<RewriteOutcome> {
    this.#rewrites += 1;
    return new Promise<RewriteOutcome>((resolve, reject) => {
      this.#transition(async () => {
        if (this.#role.state !== 'active' || this.#stop.signal.aborted) {
          resolve({ outcome: 'not-active' });
          return;
        }
        // A repeat or a refusal leaves the running term alone (a restart re-reads the events after
        // the checkpoint); the checks are made again on the checkpoints read once it stopped.
        try {
          const early = refusedOrRepeated(requestId, this.#cfg.streamIds, change, await this.#kafka.readCompacted(this.#cfg.checkpointsTopic));
          if (early) {
            resolve(early);
            return;
          }
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
          return;
        }
        await this.#becomeStandby(`operator request ${requestId}`);
        let outcome: RewriteOutcome | undefined;
        let failure: unknown;
        try {
          outcome = await writeCheckpointChange(this.#kafka, this.#cfg, requestId, change, this.#log);
        } catch (err) {
          failure = err;
        }
        // Answered once active again (or given up the lease): the replica acts for the deployment until then.
        await this.#activate();
        if (outcome) resolve(outcome);
        else reject(failure instanceof Error ? failure : new Error(String(failure)));
      });
    }).finally(() => {
      this.#rewrites -= 1;
    });
  }

  /** Kafka reachable and, on the active replica, every stream connected. */
  ready(): { ok: boolean; detail: string } {
    const role = this.#role.state;
    if (role === 'starting' || role === 'closed') return { ok: false, detail: 'kafka not connected' };
    // Holding the lease without a running term means activation keeps failing: not ready.
    const stuck = { ok: false, detail: 'holds the lease but could not become active' };
    if (role === 'activating') return stuck;
    if (role === 'standby') return this.#lease !== undefined && holdsLease(this.#lease.assignment(), this.#cfg.checkpointsTopic) ? stuck : { ok: true, detail: 'standby' };
    if (role !== 'active' || !this.#term) return { ok: false, detail: role };
    const down = this.#term.readers.filter((r) => r.state !== 'connected').length;
    // Skipped events do not make the replica unready (the stream goes on) but stay visible here.
    const skipped = this.#term.readers.flatMap((r) => (r.lastSkipped ? [`${r.streamId} skipped ${r.lastSkipped.id} (${r.lastSkipped.reason})`] : []));
    const resyncs = this.#term.slots.flatMap((s) => (s.resync ? [`${s.streamId} resyncing (${s.resync.reason}) since ${s.resync.startedAt}, ${s.replayed} events replayed`] : []));
    const detail = [down === 0 ? 'active' : `active, ${down} stream(s) not connected`, ...resyncs, ...skipped].join('; ');
    return { ok: down === 0, detail };
  }

  async start(): Promise<void> {
    await this.#ensureTopics();
    this.#lease = await this.#kafka.consumer({
      groupId: this.#cfg.groupId,
      topics: [this.#cfg.checkpointsTopic],
      sessionTimeoutMs: this.#cfg.leaseTimeoutMs,
      onAssigned: async (partitions) => {
        // The lease consumer never reads: it only holds the partition.
        this.#lease?.pause(partitions);
        if (holdsLease(partitions, this.#cfg.checkpointsTopic)) this.#transition(() => this.#activate());
        return Promise.resolve();
      },
      onRevoked: async (partitions) => {
        if (holdsLease(partitions, this.#cfg.checkpointsTopic)) this.#transition(() => this.#becomeStandby('lease revoked'));
        return Promise.resolve();
      },
    });
    await this.#lease.run(async () => {
      // Paused on assignment; nothing to process.
    });
    // The lease may have been assigned (and a term started) while joining.
    if (this.#role.state === 'starting') this.#role.to('standby');
    this.#log.info({ group: this.#cfg.groupId, streams: this.#cfg.streamIds }, 'listener started; waiting for the lease');
  }

  /** Stops the term (its transaction in flight commits) and leaves the group; a second call waits for the first. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#stop.abort();
    // After the role changes already queued: a term being opened is then stopped here.
    await this.#serialized(async () => {
      this.#role.to('closing');
      await this.#stopTerm('shutdown');
    });
    await this.#lease?.close();
    // A revocation reported while leaving the group queues a last transition (a no-op now): let it finish.
    await this.#transitions;
    this.#role.to('closed');
  }

  /** Waits `ms`, or less if the listener closes meanwhile. */
  #sleep(ms: number): Promise<void> {
    const signal = this.#stop.signal;
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * Becomes active, retrying while this replica still holds the lease. Retries back off from
   * LISTENER_RECONNECT_MIN_MS to at most ACTIVATION_RETRY_MAX_MS: an attempt costs one producer
   * initialisation and one read of the checkpoints, so after a broker restart the replica is active
   * again within seconds instead of waiting out the stream reconnection ceiling.
   */
  async #activate(): Promise<void> {
    if (this.#role.state === 'active') return;
    for (let attempt = 0;; attempt++) {
      if (this.#stop.signal.aborted || !this.#lease || !holdsLease(this.#lease.assignment(), this.#cfg.checkpointsTopic)) {
        if (this.#role.state === 'activating') this.#role.to('standby');
        return;
      }
      if (this.#role.state !== 'activating') this.#role.to('activating');
      try {
        await this.#becomeActive();
        return;
      } catch (err) {
        const retryInMs = activationRetryDelay(this.#cfg.reconnectMinMs, attempt);
        this.#log.error({ err, retryInMs }, 'could not become active; retrying while holding the lease');
        await this.#sleep(retryInMs);
      }
    }
  }

  /** Queues a role change after those already queued; a failure is logged. */
  #transition(step: () => Promise<void>): void {
    void this.#serialized(step).catch((err: unknown) => {
      this.#log.error({ err }, 'listener role change failed');
    });
  }

  /** Runs `step` after the role changes already queued (one at a time); its failure is the caller's. */
  #serialized(step: () => Promise<void>): Promise<void> {
    const run = this.#transitions.then(step);
    this.#transitions = run.catch(() => undefined);
    return run;
  }

  async #ensureTopics(): Promise<void> {
    const admin = await this.#kafka.admin();
    try {
      const wanted = topicDefinitions({ commandsTopic: this.#cfg.commandsTopic, checkpointsTopic: this.#cfg.checkpointsTopic, dlqTopic: this.#cfg.dlqTopic, controlTopic: this.#cfg.controlTopic })
        .filter((t) => t.role !== 'state');
      const created = await admin.createTopics(wanted);
      if (created.length > 0) this.#log.info({ created }, 'created missing topics');
    } catch (err) {
      this.#log.warn({ err }, 'could not create topics; assuming they are managed elsewhere');
    } finally {
      await admin.close();
    }
  }

  /** Opens a term (from `activating`); throws, still activating, when Kafka fails it. */
  async #becomeActive(): Promise<void> {
    this.#log.info({ group: this.#cfg.groupId }, 'lease acquired; becoming active');
    const abort = new AbortController();
    // Fence any previous holder first, so the checkpoints read next cannot move under us.
    const producer = await this.#kafka.transactionalProducer(`${this.#cfg.groupId}`);
    let stored: Awaited<ReturnType<Kafka['readCompacted']>>;
    let commandsPartitions: number;
    try {
      stored = await this.#kafka.readCompacted(this.#cfg.checkpointsTopic);
      commandsPartitions = await this.#partitions(this.#cfg.commandsTopic);
    } catch (err) {
      await producer.close().catch(() => undefined);
      throw err;
    }
    const now = new Date();
    const slots: StreamSlot[] = [];
    const readers: StreamReader[] = [];
    for (const streamId of this.#cfg.streamIds) {
      const { slot, reader } = followStream(streamId, decodeCheckpoint(streamId, stored.get(streamId)?.value ?? null), now, { cfg: this.#cfg, metrics: this.#metrics, log: this.#log, ca: this.#ca });
      slots.push(slot);
      readers.push(reader);
    }
    const publisher = new Publisher({
      producer,
      commandsTopic: this.#cfg.commandsTopic,
      commandsPartitions,
      checkpointsTopic: this.#cfg.checkpointsTopic,
      dlqTopic: this.#cfg.dlqTopic,
      streams: slots,
      maxBatch: MAX_BATCH,
      markings: this.#markings,
      logger: this.#log,
      metrics: this.#metrics,
    });
    const done = publisher.run(abort.signal).catch((err: unknown) => {
      if (abort.signal.aborted) return;
      const fenced = err instanceof ProducerFencedError;
      this.#log.error({ err }, fenced ? 'fenced by a newer listener; stepping down' : 'publishing to Kafka failed; restarting from the last checkpoint');
      this.#transition(async () => {
        await this.#becomeStandby(fenced ? 'fenced' : 'publish failure');
        // A fenced member normally loses the lease within a session timeout. If it still holds it
        // after that (or after a plain Kafka failure), it starts a new term from the checkpoint.
        await this.#sleep(fenced ? this.#cfg.leaseTimeoutMs : this.#cfg.reconnectMinMs);
        await this.#activate();
      });
    });
    this.#term = { abort, readers, slots, done, producer };
    this.#role.to('active');
    for (const r of readers) r.start();
  }

  async #partitions(topic: string): Promise<number> {
    const admin = await this.#kafka.admin();
    try {
      const [described] = await admin.describeTopics([topic]);
      if (!described || described.partitions < 1) throw new Error(`topic ${topic} has no partitions`);
      return described.partitions;
    } finally {
      await admin.close();
    }
  }

  /** Stops the running term (active → deactivating → standby); nothing to do on a replica without one. */
  async #becomeStandby(reason: string): Promise<void> {
    if (this.#role.state !== 'active') return;
    this.#role.to('deactivating');
    await this.#stopTerm(reason);
    this.#role.to('standby');
  }

  /** Closes the term's readers, lets its transaction in flight commit, and closes its producer. */
  async #stopTerm(reason: string): Promise<void> {
    const term = this.#term;
    if (!term) return;
    this.#term = undefined;
    this.#log.info({ reason }, 'leaving the active role');
    await Promise.all(term.readers.map((r) => r.close()));
    term.abort.abort();
    await term.done;
    await term.producer?.close().catch((err: unknown) => this.#log.warn({ err }, 'closing the producer failed'));
  }
}

/** Longest wait between two attempts to become active while holding the lease. */
export const ACTIVATION_RETRY_MAX_MS = 5000;

export function activationRetryDelay(minMs: number, attempt: number, random: () => number = Math.random): number {
  return backoffDelay({ minMs: Math.min(minMs, ACTIVATION_RETRY_MAX_MS), maxMs: ACTIVATION_RETRY_MAX_MS }, attempt, random);
}

function holdsLease(partitions: readonly TopicPartition[], topic: string): boolean {
  return partitions.some((p) => p.topic === topic && p.partition === 0);
}
