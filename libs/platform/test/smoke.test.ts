import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hello } from '../src/index.ts';

test('runs on Node 24', () => {
  assert.equal(process.versions.node.split('.')[0], '24');
  assert.equal(hello(1), 'hi 1');
});
