import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Command, ResyncMarker } from '@octi-defender/indicators';
import type { Claim } from '../src/core/claims.ts';
import { ResyncEpochs } from '../src/core/resync.ts';
import { withoutStale } from './resync-helpers.ts';

const marker = (phase: 'begin' | 'end', epoch = 'e1', streamId = 's1'): ResyncMarker => ({
  schemaVersion: 1,
  op: 'resync',
  phase,
  streamId,
  epoch,
  partition: 0,
  partitions: 1,
  reason: 'operator',
  at: '2026-12-01T00:00:00.000Z',
});
const claim = (sourceId: string, streamId = 's1'): Claim => ({ sourceId, streamId, eventId: '1-0', at: 1, facts: {} as Claim['facts'] });
const upsert = (key: string, sourceId: string, streamId = 's1'): Command => ({ op: 'upsert', key, source: { id: sourceId, streamId } } as unknown as Command);

test('at the end of an epoch, the claims of that stream not asserted since its begin are stale', () => {
  const epochs = new ResyncEpochs();
  epochs.begin(0, marker('begin'));
  epochs.observe(0, upsert('IpAddress:1.1.1.1', 'a'));
  epochs.observe(1, upsert('IpAddress:2.2.2.2', 'b')); // another partition: not this epoch's
  const claims: Array<[string, Claim[]]> = [
    ['IpAddress:1.1.1.1', [claim('a')]],
    ['IpAddress:2.2.2.2', [claim('b'), claim('c', 's2')]],
  ];
  const stale = epochs.end(0, marker('end'), claims);
  assert.deepEqual(stale, [{ key: 'IpAddress:2.2.2.2', sourceId: 'b', streamId: 's1', eventId: '1-0' }]);
  assert.deepEqual(withoutStale('IpAddress:2.2.2.2', claims[1]![1], stale), [claim('c', 's2')], 'other streams keep their claims');
  assert.deepEqual(epochs.end(0, marker('end'), claims), stale, 'an end read again before its batch committed (a retried batch) gives the same retractions');
  epochs.settle(0);
  assert.deepEqual(epochs.end(0, marker('end'), claims), [], 'once its batch committed, the epoch is over');
});

test('dropping a partition forgets its epochs; settling keeps an epoch still open', () => {
  const epochs = new ResyncEpochs();
  epochs.begin(0, marker('begin'));
  epochs.settle(0);
  assert.equal(epochs.end(0, marker('end'), [['k', [claim('a')]]]).length, 1, 'an open epoch survives a settle');
  epochs.begin(1, marker('begin'));
  epochs.drop(1);
  assert.deepEqual(epochs.end(1, marker('end'), [['k', [claim('a')]]]), []);
});

test('never retracts without the begin: an end of an unseen epoch, and a repeated begin keeps what was asserted', () => {
  const epochs = new ResyncEpochs();
  assert.deepEqual(epochs.end(0, marker('end'), [['k', [claim('a')]]]), []);
  epochs.begin(0, marker('begin'));
  epochs.observe(0, upsert('k', 'a'));
  epochs.begin(0, marker('begin'));
  assert.deepEqual(epochs.end(0, marker('end'), [['k', [claim('a')]]]), []);
  epochs.begin(0, marker('begin', 'e2'));
  epochs.observe(0, { op: 'retract', key: 'k', source: { id: 'a', streamId: 's1' } } as unknown as Command);
  assert.deepEqual(epochs.end(0, marker('end', 'e1'), [['k', [claim('a')]]]), [], 'the end of another epoch does nothing');
  assert.equal(epochs.end(0, marker('end', 'e2'), [['k', [claim('a')]]]).length, 1, 'a retract is no assertion');
});
