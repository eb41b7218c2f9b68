// prepareCommit: what one round writes to Kafka, per partition: the changed states (the changelog),
// the dead letters and each batch's next offset, plus what the local store takes once that partition
// committed. Pure: the round commits the records, then applies `toStore` (postCommit).
import type { ImportFailureCategory } from '../defender/model.ts';
import type { KeyState } from './plan.ts';
import { encodeState, fitState } from './state-codec.ts';

/** A record to write (the shape of the Kafka port's OutgoingRecord: the core imports no Kafka module). */
export interface OutgoingRecord {
  readonly topic: string;
  readonly key: string;
  readonly value: string | Buffer | null;
  readonly headers?: Readonly<Record<string, string | Buffer>>;
}

/** A partition's next offset to consume (the Kafka port's TopicPartitionOffset). */
export interface TopicPartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
}

/** Longest state record (JSON characters): well under the broker's default message.max.bytes (1 MiB). */
export const MAX_STATE_CHARS = 256 * 1024;

/** One dead letter of the round, before it becomes a record of the dead-letter topic. */
export interface DeadLetterInput {
  readonly key: string;
  readonly reason: string;
  readonly detail: string;
}

export interface PartitionCommit {
  readonly records: OutgoingRecord[];
  readonly offsets: TopicPartitionOffset[];
  /** The states the local store takes once the partition committed (null: forget the key). */
  readonly toStore: Map<string, { readonly state: KeyState; readonly value: string } | null>;
}

export interface CommitInput {
  /** The next state per examined key (applyOutcomes). */
  readonly states: ReadonlyMap<string, KeyState | undefined>;
  readonly rejected: readonly { readonly key: string; readonly reason: string; readonly category: ImportFailureCategory }[];
  readonly refusedDeletes: readonly { readonly key: string; readonly id: string; readonly reason: string }[];
  /** The batches applied: their dead letters (already records) and next offsets. */
  readonly batches: readonly { readonly deadLetters: readonly OutgoingRecord[]; readonly offset: TopicPartitionOffset }[];
  /** The state each key had when the round began: an unchanged one is not written again. */
  readonly before: (key: string) => KeyState | undefined;
  /** Keys whose state is written even when unchanged (a reconciliation forgot what Defender lost). */
  readonly forceWrite: ReadonlySet<string>;
  readonly partitionOf: (key: string) => number;
  readonly stateTopic: string;
  /** The state-topic key of a partition's next command offset. */
  readonly offsetKey: (partition: number) => string;
  readonly deadLetter: (letter: DeadLetterInput) => OutgoingRecord;
}

export function prepareCommit(i: CommitInput): Map<number, PartitionCommit> {
  const commits = new Map<number, PartitionCommit>();
  const commitOf = (partition: number): PartitionCommit => {
    let c = commits.get(partition);
    if (!c) commits.set(partition, c = { records: [], offsets: [], toStore: new Map() });
    return c;
  };
  for (const b of i.batches) commitOf(b.offset.partition).records.push(...b.deadLetters);
  const write = (key: string, s: KeyState | undefined): void => {
    const c = commitOf(i.partitionOf(key));
    if (!s) {
      c.toStore.set(key, null);
      c.records.push({ topic: i.stateTopic, key, value: null });
      return;
    }
    let state = s;
    let value = encodeState(s);
    if (value.length > MAX_STATE_CHARS) {
      const fitted = fitState(s, MAX_STATE_CHARS);
      const sources = fitted.dropped.map((x) => x.sourceId);
      c.records.push(
        i.deadLetter({
          key,
          reason: 'too_many_claims',
          detail: `${sources.length} weakest claims dropped to fit one state record: ${sources.slice(0, 20).join(', ')}${sources.length > 20 ? ', …' : ''}`,
        }),
      );
      state = fitted.state;
      value = encodeState(state);
    }
    c.toStore.set(key, { state, value });
    c.records.push({ topic: i.stateTopic, key, value });
  };
  for (const [key, s] of i.states) {
    // Unchanged (a replay, or re-planned and still in sync): the changelog already holds it.
    if (s === i.before(key) && !i.forceWrite.has(key)) continue;
    write(key, s);
  }
  for (const key of i.forceWrite) if (!i.states.has(key)) write(key, i.before(key));
  for (const r of i.rejected) {
    commitOf(i.partitionOf(r.key)).records.push(i.deadLetter({ key: r.key, reason: r.category === 'unknown' ? 'defender_failed' : 'defender_rejected', detail: r.reason }));
  }
  for (const r of i.refusedDeletes) {
    commitOf(i.partitionOf(r.key)).records.push(i.deadLetter({ key: r.key, reason: 'defender_delete_rejected', detail: `id ${r.id}: ${r.reason}` }));
  }
  for (const { offset: o } of i.batches) {
    const c = commitOf(o.partition);
    c.offsets.push(o);
    c.records.push({ topic: i.stateTopic, key: i.offsetKey(o.partition), value: JSON.stringify({ next: o.offset.toString() }) });
  }
  return commits;
}
