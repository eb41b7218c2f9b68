// findDrift is pure over one listing of the tenant: which ids are ours, which a state holds that
// another creator has (adopted), which are missing, which are orphans safe to delete.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { partitionForKey } from '@octi-defender/kafka';
import type { DefenderIndicatorRecord } from '../src/defender/model.ts';
import { ForeignIndex, type TenantListing } from '../src/defender/foreign.ts';
import type { KeyState } from '../src/core/plan.ts';
import { findDrift } from '../src/core/drift.ts';
import { NOW } from './helpers.ts';

const US = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const APP = 'OpenCTI Defender Sync';
const rec = (id: string, value: string, createdBy: string, over: Partial<DefenderIndicatorRecord> = {}): DefenderIndicatorRecord => ({
  id,
  indicatorValue: value,
  indicatorType: 'IpAddress',
  action: 'Block',
  application: APP,
  createdBy,
  ...over,
});

function listing(records: DefenderIndicatorRecord[]): TenantListing {
  const ours = records.filter((r) => r.createdBy?.toLowerCase() === US);
  return { ours, foreign: ForeignIndex.fromRecords(records, US), creators: new Map(records.map((r) => [r.id, r.createdBy ?? 'unknown'])), listed: records.length };
}

const state = (id: string): KeyState => ({ claims: [], applied: { id, identity: 'Block', hash: 'h', expiresAt: NOW + 1000 } });

describe('findDrift over a listing of the whole tenant', () => {
  test('adopted, missing and orphaned; others’ indicators are never orphans', () => {
    const states: [string, KeyState][] = [
      ['IpAddress:93.184.216.1', state('1')], // ours, listed
      ['IpAddress:93.184.216.2', state('2')], // another creator's id: adopted
      ['IpAddress:93.184.216.3', state('3')], // not listed: missing
    ];
    const l = listing([
      rec('1', '93.184.216.1', US),
      rec('2', '93.184.216.2', 'analyst'),
      rec('4', '93.184.216.4', US), // ours, unknown to every state: orphan
      rec('5', '93.184.216.5', 'analyst', { application: APP }), // theirs under our application name
      rec('6', '93.184.216.6', US, { application: 'another deployment' }),
    ]);
    const view = { partitionOf: () => 0, ownedPartitions: () => new Set([0]), states: () => states };
    const d = findDrift(l, { application: APP, clientId: US }, view, NOW);
    assert.deepEqual(d.adopted, [{ key: 'IpAddress:93.184.216.2', id: '2', createdBy: 'analyst' }]);
    assert.deepEqual(d.missing, ['IpAddress:93.184.216.3']);
    assert.deepEqual(d.orphaned, [{ id: '4', key: 'IpAddress:93.184.216.4' }]);
    assert.equal(d.foreign, 2);
  });

  test('a value Defender spells otherwise than our canonical keys is never an orphan (its key may be another writer’s)', () => {
    const l = listing([rec('7', 'https://malware-drop.net', US, { indicatorType: 'Url' })]);
    const partitions = 12;
    const all = new Set(Array.from({ length: partitions }, (_, i) => i));
    const d = findDrift(l, { application: APP, clientId: US }, { partitionOf: (k: string) => partitionForKey(k, partitions), ownedPartitions: () => all, states: () => [] }, NOW);
    assert.deepEqual(d.orphaned, []);
    // The canonical spelling of the same value is an orphan when no state knows it.
    const canonical = listing([rec('8', 'https://malware-drop.net/', US, { indicatorType: 'Url' })]);
    const p = partitionForKey('Url:https://malware-drop.net/', partitions);
    const d2 = findDrift(canonical, { application: APP, clientId: US }, { partitionOf: (k: string) => partitionForKey(k, partitions), ownedPartitions: () => new Set([p]), states: () => [] }, NOW);
    assert.deepEqual(d2.orphaned, [{ id: '8', key: 'Url:https://malware-drop.net/' }]);
  });
});
