// Restoring a partition's local state from its changelog (partition p of the state topic): streamed in
// offset order into one local transaction, so that later records of a key replace earlier ones and
// memory holds a fetch, not the partition.
import { partitionForKey, type Kafka } from '@octi-defender/kafka';
import type { Logger } from '@octi-defender/platform';
import type { CapIndex } from '../state/cap.ts';
import { desiredFor } from '../core/desired.ts';
import type { KeyState } from '../core/plan.ts';
import type { Policy } from '../core/policy.ts';
import { decodeState } from '../core/state-codec.ts';
import type { StateStore } from '../state/state-store.ts';

/** State-topic keys starting with this are the writer's own bookkeeping, never indicator keys. */
const META_PREFIX = '__writer__/';

/** The state-topic key holding the next command offset to apply for `partition`: it hashes to that partition. */
export function appliedOffsetKey(partition: number, partitions: number): string {
  for (let salt = 0;; salt++) {
    const key = `${META_PREFIX}applied-offset/${partition}/${salt}`;
    if (partitionForKey(key, partitions) === partition) return key;
  }
}

interface RestoreDeps {
  readonly kafka: Kafka;
  readonly stateTopic: string;
  readonly partitionCount: number;
  readonly store: StateStore;
  readonly cap: CapIndex;
  readonly policy: Policy;
  /** Keys to plan again (what Defender holds is re-planned once: the cap share or the policy may have changed since). */
  readonly pending: Set<string>;
  readonly logger: Logger;
}

/** Reads the partition's changelog into the store and the cap; returns the next command offset to apply and the states read. */
export async function restorePartition(d: RestoreDeps, partition: number, now: number): Promise<{ nextOffset: bigint; restored: number }> {
  // A partition this member held before (revoked, then assigned again) starts from the changelog.
  d.store.dropPartition(partition);
  d.cap.dropPartition(partition);
  const offsetKey = appliedOffsetKey(partition, d.partitionCount);
  let nextOffset = 0n;
  let restored = 0;
  await d.store.transactionAsync(() =>
    d.kafka.scanCompacted(
      d.stateTopic,
      (key, r) => {
        if (key.startsWith(META_PREFIX)) {
          if (key === offsetKey && r.value) nextOffset = BigInt((JSON.parse(r.value.toString('utf8')) as { next: string }).next);
          return;
        }
        if (r.value === null) {
          d.store.delete(key);
          d.cap.delete(key);
          d.pending.delete(key);
          return;
        }
        const text = r.value.toString('utf8');
        let s: KeyState;
        try {
          s = decodeState(text);
        } catch (err) {
          d.logger.error({ err, key, offset: r.offset.toString() }, 'unreadable state record ignored');
          return;
        }
        d.store.put(key, s, text);
        restored++;
        const desired = desiredFor(s.claims, d.policy, now);
        if (desired.present && desired.hash !== s.rejectedHash) d.cap.set(key, desired.strength);
        else d.cap.delete(key);
        if (s.applied || s.staleIds?.length) d.pending.add(key);
        else d.pending.delete(key);
      },
      { partitions: [partition] },
    )
  );
  return { nextOffset, restored };
}
