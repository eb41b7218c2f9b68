import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { Partitioners } from 'kafkajs';
import { keyPartitioner, partitionForKey } from '../src/partitioner.ts';

const metadata = (n: number) => Array.from({ length: n }, (_, i) => ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));

// Keys of every length class (mod 4), ASCII and multi-byte UTF-8, and one longer than the scratch buffer.
const keys = [
  '',
  'a',
  'ab',
  'abc',
  'abcd',
  'IpAddress:11.0.0.1',
  'DomainName:exämple.org',
  'Url:https://例え.jp/パス?q=😀',
  `FileSha256:${'f'.repeat(2000)}`,
  ...Array.from({ length: 2000 }, (_, i) => `IpAddress:${randomBytes(1 + (i % 40)).toString(i % 2 ? 'hex' : 'latin1')}`),
];

test('partitionForKey and keyPartitioner place every key where kafkajs DefaultPartitioner (Java murmur2) does', () => {
  const kafkajs = Partitioners.DefaultPartitioner();
  const ours = keyPartitioner();
  for (const n of [1, 3, 6, 7, 64]) {
    const partitionMetadata = metadata(n);
    for (const key of keys) {
      const expected = kafkajs({ topic: 't', partitionMetadata, message: { key, value: null } });
      assert.equal(partitionForKey(key, n), expected, key);
      assert.equal(ours({ topic: 't', partitionMetadata, message: { key, value: null } }), expected, key);
      assert.equal(ours({ topic: 't', partitionMetadata, message: { key: Buffer.from(key), value: null } }), expected, key);
    }
  }
});

test('keyPartitioner keeps an explicit partition and spreads keyless records over the partitions', () => {
  const ours = keyPartitioner();
  const partitionMetadata = metadata(6);
  assert.equal(ours({ topic: 't', partitionMetadata, message: { key: 'k', partition: 4, value: null } }), 4);
  const seen = new Set(Array.from({ length: 12 }, () => ours({ topic: 't', partitionMetadata, message: { value: null } })));
  assert.equal(seen.size, 6);
});
