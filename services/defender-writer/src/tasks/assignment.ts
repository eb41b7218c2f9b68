// Assignment, revocation and fencing in one place (the role of Kafka Streams' TaskManager): a
// partition's task is begun, its state restored from the changelog and the task set running; a
// revoked or fenced partition's local state is dropped; a fenced partition the consumer still holds
// under a valid lease is restored again.
import type { WriterContext } from './context.ts';
import type { Consumer, TopicPartition } from '@octi-defender/kafka';
import type { FlowControl } from './flow-control.ts';
import type { Repairs } from './repairs.ts';
import { restorePartition } from './restore.ts';
import type { TenantView } from './tenant-view.ts';

type AssignmentDeps =
  & Pick<WriterContext, 'cfg' | 'kafka' | 'partitionCount' | 'tasks' | 'store' | 'cap' | 'keys' | 'resync' | 'lease' | 'policy' | 'metrics' | 'logger' | 'now' | 'exclusive' | 'closed'>
  & {
    readonly consumer: () => Consumer | undefined;
    readonly tenant: TenantView;
    readonly flow: FlowControl;
    readonly repairs: Repairs;
    /** The member has joined the group with partitions (readiness). */
    readonly joined: () => void;
    /** The owned partitions changed: room, metrics. */
    readonly ownershipChanged: () => void;
    /** A round without commands (under the lock). */
    readonly maintain: () => Promise<void>;
  };

export class Assignment {
  readonly #d: AssignmentDeps;

  constructor(deps: AssignmentDeps) {
    this.#d = deps;
  }

  async assigned(partitions: readonly TopicPartition[]): Promise<void> {
    const d = this.#d;
    const now = d.now();
    const consumer = d.consumer();
    // A partition a later join already took away is not registered: its producer would fence the new owner's.
    const current = new Set(consumer?.assignment().map((tp) => tp.partition));
    const fresh = partitions.filter((tp) => !d.tasks.owns(tp.partition) && current.has(tp.partition));
    if (fresh.length === 0) return;
    const restore = { ...d, stateTopic: d.cfg.stateTopic, partitionCount: d.partitionCount(), pending: d.keys.pending };
    for (const { partition } of fresh) {
      const task = await d.tasks.begin(partition, now);
      try {
        const { nextOffset, restored } = await restorePartition(restore, partition, now);
        task.nextOffset = nextOffset;
        d.tasks.restored(partition);
        d.logger.info({ partition, records: restored, nextOffset: nextOffset.toString() }, 'partition state restored');
      } catch (err) {
        await d.tasks.close(partition);
        throw err;
      }
    }
    // Where each partition ends now, so that catching up starts with the first batch of any of them.
    try {
      for (const l of (await consumer?.lag()) ?? []) {
        const task = d.tasks.running(l.partition);
        if (task && l.end > task.nextOffset) task.behind = l.end - task.nextOffset;
      }
    } catch (err) {
      d.logger.debug({ err }, 'end offsets not read; catch-up starts with the first batch behind');
    }
    d.joined();
    d.tenant.markStale();
    d.ownershipChanged();
    // A partition paused when it was lost is consumed again; while the writer is paused, new ones
    // wait with the others (unpaused, their batches would be fetched again and again, unapplied).
    if (consumer && d.flow.consuming) {
      const paused = new Set(consumer.paused().map((tp) => tp.partition));
      const again = fresh.filter((tp) => paused.has(tp.partition));
      if (again.length > 0) consumer.resume(again);
    } else if (consumer) consumer.pause(fresh);
    // What a previous owner (or this process before a crash) sent without committing is found by a
    // reconciliation soon after the assignment.
    if (!d.cfg.dryRun) d.repairs.askSoon();
    // Settle the cap with the new capacity and retry pending keys, even if no command arrives.
    void d.exclusive(() => d.maintain());
  }

  async revoked(partitions: readonly number[]): Promise<void> {
    for (const partition of partitions) if (await this.#d.tasks.close(partition)) this.#dropState(partition);
    this.#d.logger.info({ partitions }, 'partitions revoked; their state dropped');
    this.#d.ownershipChanged();
  }

  /** Partitions whose producer was fenced: another member owns them now. Their state goes; the process carries on. */
  async fenced(partitions: readonly number[]): Promise<void> {
    const d = this.#d;
    for (const partition of partitions) {
      d.logger.warn({ partition }, 'partition producer fenced: another member owns the partition; its state is dropped');
      d.consumer()?.pause([{ topic: d.cfg.commandsTopic, partition }]);
      await d.tasks.fence(partition);
      this.#dropState(partition);
    }
    d.ownershipChanged();
    this.retakeSoon();
  }

  /** `retakeFenced` under the lock; a failed restore is logged, and the next join retries it. */
  retakeSoon(): void {
    this.#d.exclusive(() => this.retakeFenced()).catch((err: unknown) => this.#d.logger.error({ err }, 'restoring a fenced partition again failed; the next rebalance retries it'));
  }

  /**
   * Partitions whose local state could not take what Kafka committed: closed, their state dropped,
   * and restored from the changelog again while the consumer holds them.
   */
  async reload(partitions: readonly number[]): Promise<void> {
    const d = this.#d;
    for (const partition of partitions) if (await d.tasks.close(partition)) this.#dropState(partition);
    d.ownershipChanged();
    const again = (d.consumer()?.assignment() ?? []).filter((tp) => partitions.includes(tp.partition));
    if (again.length > 0) await this.assigned(again);
  }

  /**
   * Fenced partitions the consumer still holds under a valid lease are registered and restored again:
   * no other member can own them then (the fencer was an owner whose assignment had already ended,
   * e.g. one that registered late), so waiting for the next join would leave them unconsumed.
   */
  async retakeFenced(): Promise<void> {
    const d = this.#d;
    if (d.closed() || !d.lease.valid) return;
    const again = (d.consumer()?.assignment() ?? []).filter((tp) => d.tasks.isFenced(tp.partition));
    if (again.length > 0) await this.assigned(again);
  }

  #dropState(partition: number): void {
    const d = this.#d;
    d.store.dropPartition(partition);
    d.cap.dropPartition(partition);
    d.keys.dropPartition(partition);
    d.resync.drop(partition);
    d.metrics.lag.remove({ partition: String(partition) });
    d.metrics.foreignHeld.set(d.keys.held.size);
  }
}
