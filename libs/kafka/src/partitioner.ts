// The partition a keyed record lands on: Java's murmur2 (kafkajs DefaultPartitioner, Java
// clients), so consumers can tell which partition owns a key without producing. kafkajs computes it
// with 64-bit Long objects (a dozen allocations per 4 bytes of key); this is the same 32-bit
// arithmetic with Math.imul, and the producers use it too (`keyPartitioner`).
import { Partitioners, type ICustomPartitioner } from 'kafkajs';

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** A reused buffer for a key's UTF-8 bytes (a key longer than it gets a buffer of its own). */
const scratch = Buffer.allocUnsafe(1024);

/** Java's `Utils.murmur2` over the key's UTF-8 bytes. */
function murmur2(key: string | Buffer): number {
  let data: Buffer;
  let length: number;
  if (Buffer.isBuffer(key)) {
    data = key;
    length = key.length;
  } else if (key.length * 3 <= scratch.length) {
    data = scratch;
    length = scratch.write(key, 0, 'utf8');
  } else {
    data = Buffer.from(key, 'utf8');
    length = data.length;
  }
  let h = (SEED ^ length) | 0;
  const end = length & ~3;
  for (let i = 0; i < end; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= data[end + 2]! << 16;
    if (rest >= 2) h ^= data[end + 1]! << 8;
    h ^= data[end]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h;
}

const partitionOfHash = (hash: number, partitions: number): number => (hash & 0x7fffffff) % partitions;

export function partitionForKey(key: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  return partitionOfHash(murmur2(key), partitions);
}

/**
 * kafkajs' DefaultPartitioner with this murmur2 for keyed records (the same partitions); an explicit
 * partition and keyless records (round robin) go to kafkajs' own.
 */
export const keyPartitioner: ICustomPartitioner = () => {
  const fallback = Partitioners.DefaultPartitioner();
  return (args) => {
    const { partition, key } = args.message;
    if (partition !== null && partition !== undefined) return partition;
    if (key === null || key === undefined) return fallback(args);
    return partitionOfHash(murmur2(key), args.partitionMetadata.length);
  };
};
