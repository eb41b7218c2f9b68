// The partitions this member owns, one task each: its state, its transactional producer (whose
// registration fences the previous owner's) and where its commands stand. Assignment, revocation and
// fencing change a task's state here and nowhere else; the writer drops and restores the local state
// around these moves.
//
//   restoring  the producer is registered and the state is being read back from the changelog
//   running    restored: batches are applied and committed through the producer
//   fenced     another producer registered the same transactional id: nothing more is committed; the
//              task is restored again if the consumer still holds the partition under a valid lease
//   closed     revoked (final: a later assignment makes a new task)
import { ProducerFencedError, type Kafka, type OutgoingRecord, type TopicPartitionOffset, type TransactionalProducer } from '@octi-defender/kafka';
import { InvalidTransitionError, isValidTransition, type Logger, type TransitionTable } from '@octi-defender/platform';

type TaskState = 'restoring' | 'running' | 'fenced' | 'closed';

export const TASK_TRANSITIONS: TransitionTable<TaskState> = {
  restoring: ['running', 'closed'],
  running: ['fenced', 'closed'],
  fenced: ['restoring', 'closed'],
  closed: [],
};

export interface PartitionTask {
  readonly partition: number;
  readonly state: TaskState;
  /** Next command offset not yet applied (from the changelog, then each commit). */
  nextOffset: bigint;
  /** Commands after the last batch, as that batch's high watermark said. */
  behind: bigint;
  /** When `behind` was measured. */
  behindAt: number;
}

/** How a partition's commit ended: `fenced` (another member owns it now), `retry` (nothing committed). */
type CommitOutcome = 'ok' | 'retry' | 'fenced' | 'lost';

interface Task extends PartitionTask {
  state: TaskState;
  producer: TransactionalProducer | undefined;
}

/** The transactional id of a partition's producer: the same on every member, so the next owner fences the previous one. */
export function partitionTransactionalId(group: string, partition: number): string {
  return `${group}.p${partition}`;
}

export class PartitionTasks {
  readonly #kafka: Kafka;
  readonly #group: string;
  readonly #log: Logger;
  readonly #tasks = new Map<number, Task>();

  constructor(kafka: Kafka, group: string, logger: Logger) {
    this.#kafka = kafka;
    this.#group = group;
    this.#log = logger;
  }

  /** The running task of `partition`, if this member owns it. */
  running(partition: number): PartitionTask | undefined {
    const t = this.#tasks.get(partition);
    return t?.state === 'running' ? t : undefined;
  }

  owns(partition: number): boolean {
    return this.running(partition) !== undefined;
  }

  /** The running tasks' partitions. */
  owned(): Set<number> {
    const out = new Set<number>();
    for (const t of this.#tasks.values()) if (t.state === 'running') out.add(t.partition);
    return out;
  }

  runningTasks(): PartitionTask[] {
    return [...this.#tasks.values()].filter((t) => t.state === 'running');
  }

  get ownedCount(): number {
    let n = 0;
    for (const t of this.#tasks.values()) if (t.state === 'running') n++;
    return n;
  }

  isFenced(partition: number): boolean {
    return this.#tasks.get(partition)?.state === 'fenced';
  }

  get anyFenced(): boolean {
    for (const t of this.#tasks.values()) if (t.state === 'fenced') return true;
    return false;
  }

  /**
   * Starts restoring a partition: its producer first, whose registration fences the previous owner's
   * and aborts that one's open transaction, so the restore (committed data only) sees all it committed.
   * A fenced task is restored again.
   */
  async begin(partition: number, now: number): Promise<PartitionTask> {
    const old = this.#tasks.get(partition);
    if (old && old.state !== 'fenced') throw new Error(`partition ${partition} is already ${old.state}`);
    if (old) this.#to(old, 'restoring');
    await this.#closeProducer(old);
    const task: Task = old ?? { partition, state: 'restoring', nextOffset: 0n, behind: 0n, behindAt: now, producer: undefined };
    task.nextOffset = 0n;
    task.behind = 0n;
    task.behindAt = now;
    this.#tasks.set(partition, task);
    try {
      task.producer = await this.#kafka.transactionalProducer(partitionTransactionalId(this.#group, partition));
    } catch (err) {
      // No producer, no task: the next assignment of the partition begins it again.
      await this.close(partition);
      throw err;
    }
    return task;
  }

  /** The partition's state is restored: its batches are applied from now on. */
  restored(partition: number): void {
    const t = this.#tasks.get(partition);
    if (t) this.#to(t, 'running');
  }

  /**
   * Revoked (or its restore failed): the task ends and its producer closes. Returns whether its local
   * state is still there to drop (a fenced task's was dropped when it was fenced).
   */
  async close(partition: number): Promise<boolean> {
    const t = this.#tasks.get(partition);
    if (!t) return false;
    const held = t.state !== 'fenced';
    this.#to(t, 'closed');
    this.#tasks.delete(partition);
    await this.#closeProducer(t);
    return held;
  }

  async closeAll(): Promise<void> {
    for (const p of [...this.#tasks.keys()]) await this.close(p);
  }

  /** Another producer took the partition's transactional id: nothing more is committed through this one. */
  async fence(partition: number): Promise<void> {
    const t = this.#tasks.get(partition);
    if (!t || t.state !== 'running') return;
    this.#to(t, 'fenced');
    await this.#closeProducer(t);
  }

  /** One partition's records and offsets in one transaction through its own producer. `guard` throws when the lease ended. */
  async commit(partition: number, records: readonly OutgoingRecord[], offsets: readonly TopicPartitionOffset[], guard: () => void): Promise<CommitOutcome> {
    if (records.length === 0 && offsets.length === 0) return 'ok';
    const t = this.#tasks.get(partition);
    if (!t || t.state !== 'running' || !t.producer) return 'lost';
    try {
      guard();
    } catch {
      return 'lost';
    }
    try {
      await t.producer.transaction(async (tx) => {
        if (records.length > 0) await tx.send(records);
        if (offsets.length > 0) await tx.sendOffsets(this.#group, offsets);
      });
      return 'ok';
    } catch (err) {
      if (err instanceof ProducerFencedError) return 'fenced';
      this.#log.error({ err, partition }, 'writing to Kafka failed; nothing committed for the partition, retrying after a pause');
      return 'retry';
    }
  }

  async #closeProducer(t: Task | undefined): Promise<void> {
    const p = t?.producer;
    if (!t || !p) return;
    t.producer = undefined;
    await p.close().catch((err: unknown) => this.#log.warn({ err, partition: t.partition }, 'closing a partition producer failed'));
  }

  #to(t: Task, next: TaskState): void {
    if (!isValidTransition(TASK_TRANSITIONS, t.state, next)) throw new InvalidTransitionError(`partition ${t.partition}`, t.state, next, TASK_TRANSITIONS[t.state]);
    t.state = next;
  }
}
