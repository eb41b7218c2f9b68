// What the writer's units share: its configuration, the local state, the Defender client, the
// partition tasks, the lease and the lock. Each unit takes the part it needs (Pick) and its own ports.
import type { Kafka } from '@octi-defender/kafka';
import type { Logger } from '@octi-defender/platform';
import type { WriterConfig } from '../config.ts';
import type { Policy } from '../core/policy.ts';
import type { ResyncHandler } from '../core/resync.ts';
import type { DefenderClient } from '../defender/client.ts';
import type { WriterMetrics } from '../metrics.ts';
import type { CapIndex } from '../state/cap.ts';
import type { KeyTracking } from '../state/key-tracking.ts';
import type { StateStore } from '../state/state-store.ts';
import type { Lease } from './lease.ts';
import type { PartitionTasks } from './partition-tasks.ts';

export interface WriterContext {
  readonly cfg: WriterConfig;
  readonly kafka: Kafka;
  readonly client: DefenderClient;
  readonly store: StateStore;
  readonly cap: CapIndex;
  readonly keys: KeyTracking;
  readonly resync: ResyncHandler;
  readonly tasks: PartitionTasks;
  readonly lease: Lease;
  readonly policy: Policy;
  readonly metrics: WriterMetrics;
  readonly logger: Logger;
  readonly now: () => number;
  /** The commands partition of a key. */
  readonly partitionOf: (key: string) => number;
  readonly partitionCount: () => number;
  /** The writer's lock: batches, rebalances, rounds and reconciliations run one at a time. */
  readonly exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
  readonly closed: () => boolean;
}
