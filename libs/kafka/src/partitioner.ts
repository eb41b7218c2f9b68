// The partition a keyed record lands on: the producer's partitioner (kafkajs DefaultPartitioner,
// Java-compatible murmur2), so consumers can tell which partition owns a key without producing.
import { Partitioners } from 'kafkajs';

const partitioner = Partitioners.DefaultPartitioner();

export function partitionForKey(key: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  const partitionMetadata = Array.from({ length: partitions }, (_, i) => ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
  return partitioner({ topic: '', partitionMetadata, message: { key, value: null } });
}
