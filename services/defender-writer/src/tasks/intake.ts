// Batch intake: how fetched batches reach a round. The batches of one fetch are delivered together
// (one per partition), so all but the last join it (Mode `join`) and one round applies them, its
// calls in full chunks across partitions; while the quota would hold the call back, batches fold into
// the state and one send carries every key folded meanwhile; while catching up, they defer. What a
// round's outcome means for each batch (resolved, replayed after a pause, abandoned) is decided here.
import type { WriterContext } from './context.ts';
import type { Batch, OutgoingRecord } from '@octi-defender/kafka';
import { chooseMode, type Mode } from '../core/mode.ts';
import type { CatchUp } from './catch-up.ts';
import { decodeBatch, type DecodedBatch, type WriterLetter } from './decode.ts';
import type { FlowControl } from './flow-control.ts';
import type { Applied, RoundInput } from './round.ts';

/** A batch arriving without a valid lease waits this long before it returns (no busy refetching). */
const LEASE_WAIT_MS = 200;

/** A batch waiting for the last one of its fetch to apply it with its own (Mode `join`). */
interface Joined {
  readonly batch: Batch;
  readonly decoded: DecodedBatch;
  readonly settle: (outcome: Applied | undefined) => void;
}

type IntakeDeps = Pick<WriterContext, 'exclusive' | 'closed' | 'tasks' | 'lease' | 'client' | 'resync' | 'metrics' | 'logger' | 'now' | 'partitionCount'> & {
  readonly flow: FlowControl;
  readonly catchUp: CatchUp;
  readonly deadLetter: (letter: WriterLetter) => OutgoingRecord;
  /** A round (under the lock). */
  readonly run: (input: RoundInput) => Promise<{ outcome: Applied; partitions: ReadonlyMap<number, Applied> }>;
  /** A round without commands (under the lock). */
  readonly maintain: () => Promise<void>;
};

export class BatchIntake {
  readonly #d: IntakeDeps;
  /** Batches waiting for the lock (delivered concurrently, one per partition): the last one applies them all. */
  #waitingBatches = 0;
  /** Batches decoded and waiting for the last of their fetch (Mode `join`). */
  #joinedBatches: Joined[] = [];
  /** A send of the folded keys is on its way (#flushSoon). */
  #flushQueued = false;

  constructor(deps: IntakeDeps) {
    this.#d = deps;
  }

  /**
   * Sends the folded keys once the quota allows a call: the wait is spent outside the lock, so the
   * batches arriving meanwhile fold too and go in the same call.
   */
  #flushSoon(): void {
    if (this.#d.closed() || this.#flushQueued) return;
    this.#flushQueued = true;
    void (async () => {
      try {
        await this.#d.client.quotaReady('import');
        await this.#d.client.quotaReady('batchDelete');
      } catch {
        // Closed: the folded keys are committed; the partitions' next owner plans them.
      }
      await this.#d.exclusive(async () => {
        this.#flushQueued = false;
        await this.#d.maintain();
      });
    })();
  }

  #mode(): Mode {
    return chooseMode({
      catchingUp: this.#d.catchUp.deferring(this.#d.now(), this.#d.tasks.runningTasks().map((t) => ({ behind: t.behind, at: t.behindAt }))),
      waitingBatches: this.#waitingBatches,
      failures: this.#d.flow.failures,
      breakerClosed: this.#d.client.breakerState === 'closed',
      throttledForMs: this.#d.client.throttledForMs(),
      quotaWaitMs: Math.max(this.#d.client.quotaWaitMs('import'), this.#d.client.quotaWaitMs('batchDelete')),
    });
  }

  async onBatch(batch: Batch): Promise<void> {
    this.#waitingBatches++;
    let joined: Promise<[DecodedBatch, Applied | undefined]> | undefined;
    await this.#d.exclusive(async () => {
      this.#waitingBatches--;
      try {
        const decoded = await this.#decode(batch);
        if (!decoded) return;
        const mode = this.#mode();
        if (mode === 'join') {
          joined = new Promise((resolve) => this.#joinedBatches.push({ batch, decoded, settle: (outcome) => resolve([decoded, outcome]) }));
          return;
        }
        this.#finish(batch, decoded, (await this.#applyJoined({ batch, decoded }, mode)).get(batch.partition));
      } finally {
        // The batch that was to apply the joined ones returned early: they go now.
        if (this.#waitingBatches === 0 && this.#joinedBatches.length > 0) await this.#applyJoined(undefined, this.#mode());
      }
    });
    if (joined) this.#finish(batch, ...(await joined));
  }

  /** The batch's records as commands and dead letters; undefined when the batch is not to be applied now. */
  async #decode(batch: Batch): Promise<DecodedBatch | undefined> {
    const task = this.#d.tasks.running(batch.partition);
    // Not resolving = the records come back after resume or go to the partition's new owner.
    if (!this.#d.flow.consuming || this.#d.closed() || batch.isStale() || !task) return undefined;
    // Not owned under a valid lease: return without committing, so that kafkajs rejoins (after a
    // short wait: the adapter's heartbeats may renew the lease, and the same records come back).
    if (!this.#d.lease.valid) {
      await new Promise((r) => setTimeout(r, LEASE_WAIT_MS));
      return undefined;
    }
    return decodeBatch({ resync: this.#d.resync, partitionCount: this.#d.partitionCount(), logger: this.#d.logger, deadLetter: this.#d.deadLetter }, batch, task, this.#d.now());
  }

  /**
   * The joined batches, with `own` if given, applied together in one round: their commands together,
   * each partition's dead letters and offset in its own transaction. Every joined one is settled,
   * whatever happens. Per partition: undefined when not applied now (the writer is paused or closing,
   * or the partition is no longer owned), nothing committed, the records come back.
   */
  async #applyJoined(own: { batch: Batch; decoded: DecodedBatch } | undefined, mode: Mode): Promise<Map<number, Applied | undefined>> {
    const group = this.#joinedBatches.splice(0);
    const outcomes = new Map<number, Applied | undefined>();
    try {
      const live = [...group, ...(own ? [own] : [])].filter((b) => this.#d.flow.consuming && !this.#d.closed() && !b.batch.isStale() && this.#d.tasks.owns(b.batch.partition));
      if (live.length === 0) return outcomes;
      // The last batch of a group sends for all (`join` only waits for it).
      const applied = await this.#d.run({ commands: live.flatMap((b) => b.decoded.commands), batches: live.map((b) => b.decoded), mode: mode === 'join' ? 'send' : mode });
      for (const b of live) outcomes.set(b.batch.partition, applied.partitions.get(b.batch.partition) ?? applied.outcome);
      if (mode === 'fold' && live.some((b) => outcomes.get(b.batch.partition) === 'ok')) this.#flushSoon();
      return outcomes;
    } finally {
      for (const g of group) g.settle(outcomes.get(g.batch.partition));
    }
  }

  /** What the consumer and the metrics learn of a batch's application. */
  #finish(batch: Batch, d: DecodedBatch, outcome: Applied | undefined): void {
    if (outcome === undefined) return;
    if (outcome === 'lost') {
      this.#d.metrics.batches.inc({ outcome: 'lost' });
      return;
    }
    if (outcome === 'retry') {
      this.#d.metrics.batches.inc({ outcome: 'retry' });
      // One failed application is one failure for the backoff, however many joined batches it carried.
      if (this.#d.flow.consuming) this.#d.flow.failed();
      return;
    }
    for (const c of d.commands) this.#d.metrics.commands.inc({ op: c.op });
    this.#d.metrics.batches.inc({ outcome: 'applied' });
    this.#d.resync.settle(batch.partition);
    batch.resolveOffset(batch.lastOffset);
  }
}
