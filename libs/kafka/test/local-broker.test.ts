// The local test broker's storage format: the cluster id must never look like an option.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clusterId } from '../src/testing/local-broker.ts';

test('a cluster id starting with "-" is drawn again (the storage tool would read it as an option)', () => {
  // 0xF8's first six bits are 62: '-' in URL-safe base64.
  const draws = [Buffer.alloc(16, 0xf8), Buffer.alloc(16, 0x01)];
  const id = clusterId(() => draws.shift() as Buffer);
  assert.equal(draws.length, 0);
  assert.equal(id, Buffer.alloc(16, 0x01).toString('base64url'));
  assert.equal(id.length, 22);
  assert.equal(Buffer.alloc(16, 0xf8).toString('base64url')[0], '-');
});
