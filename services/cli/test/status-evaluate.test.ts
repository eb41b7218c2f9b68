// status's pure evaluation: a healthy deployment exits 0; each condition an operator must act on is
// named and makes it exit 1.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { StatusSnapshot } from '@octi-defender/platform';
import { loadWriterConfig, policyFromConfig } from '@octi-defender/defender-writer/config';
import { desiredFor } from '@octi-defender/defender-writer/core/desired';
import { evaluateStatus, type StatusInput } from '../src/status/evaluate.ts';
import { standing } from '../src/status/keys.ts';

const NOW = Date.parse('2026-12-06T12:00:00Z');
const sample = (value: number, labels: Record<string, string> = {}) => [{ labels, value, changedAt: NOW - 60_000 }];

function writerSnapshot(over: Record<string, ReturnType<typeof sample>> = {}, at = NOW - 1000): StatusSnapshot {
  return {
    schemaVersion: 1,
    service: 'defender-writer',
    instance: 'w1',
    info: { tenant: 'contoso', group: 'defender-writer.contoso' },
    at,
    intervalMs: 15_000,
    metrics: {
      octi_writer_paused: sample(0),
      defender_api_breaker_state: sample(0),
      octi_writer_owned_indicators: sample(10),
      octi_writer_cap_capacity: sample(15000),
      octi_writer_reconciles_total: sample(2, { outcome: 'ok' }),
      octi_writer_reconcile_drift: sample(0, { kind: 'missing' }),
      ...over,
    },
  };
}

function healthy(over: Partial<StatusInput> = {}): StatusInput {
  return {
    now: NOW,
    listenerGroup: { groupId: 'stream-listener', state: 'Stable', members: [{ memberId: 'm', clientId: 'stream-listener', host: '/10.0.0.1', assignment: [{ topic: 'ckpt', partition: 0 }] }] },
    checkpointsTopic: 'ckpt',
    streams: [{ streamId: 's1', lastEventId: `${NOW - 10_000}-0` }],
    snapshots: [writerSnapshot()],
    tenants: [{
      tenant: 'contoso',
      group: 'defender-writer.contoso',
      commandsTopic: 'cmds',
      members: {
        groupId: 'defender-writer.contoso',
        state: 'Stable',
        members: [{ memberId: 'x', clientId: 'defender-writer-w1', host: '/10.0.0.2', assignment: [{ topic: 'cmds', partition: 0 }, { topic: 'cmds', partition: 1 }] }],
      },
      lag: [{ topic: 'cmds', partition: 0, committed: 5n, end: 5n, lag: 0n }, { topic: 'cmds', partition: 1, committed: 7n, end: 8n, lag: 1n }],
    }],
    deadLetters: {},
    ...over,
  };
}

const T = { maxLag: 100, staleAfterMs: 600_000 };
const attention = (input: StatusInput): string[] => evaluateStatus(input, T).findings.filter((f) => f.attention).map((f) => `${f.subject}: ${f.message}`);

describe('evaluateStatus', () => {
  test('a healthy deployment needs no attention: exit 0, with what it found', () => {
    const r = evaluateStatus(healthy(), T);
    assert.deepEqual(attention(healthy()), []);
    assert.equal(r.exitCode, 0);
    assert.equal(r.listener.active, 'stream-listener@/10.0.0.1');
    assert.equal(r.tenants[0]?.lag, 1n);
    assert.deepEqual(r.tenants[0]?.writers[0]?.partitions, [0, 1]);
    assert.equal(r.tenants[0]?.writers[0]?.lastReconcileAt, NOW - 60_000);
  });

  test('each condition is named and exits 1', () => {
    const cases: [Partial<StatusInput>, RegExp][] = [
      [{ listenerGroup: { groupId: 'stream-listener', state: 'Empty', members: [] } }, /no active stream-listener/],
      [{ streams: [{ streamId: 's1', lastEventId: `${NOW - 3_600_000}-0` }] }, /stream s1: position .* 60 min old/],
      [{ streams: [{ streamId: 's1' }] }, /stream s1: no checkpoint yet/],
      [{ snapshots: [writerSnapshot({ octi_writer_paused: sample(1), defender_api_breaker_state: sample(2) })] }, /tenant contoso: writer w1 is paused .*circuit breaker open/],
      [{ snapshots: [writerSnapshot({ octi_writer_owned_indicators: sample(15000) })] }, /tenant contoso: writer w1 is short of room: 15000 of 15000/],
      [{ snapshots: [writerSnapshot({ octi_writer_cap_waiting_keys: sample(12) })] }, /12 keys waiting over the cap/],
      [{ tenants: [{ ...healthy().tenants[0]!, lag: [{ topic: 'cmds', partition: 0, committed: 0n, end: 500n, lag: 500n }] }] }, /tenant contoso: 500 commands behind \(over 100\)/],
      [{ tenants: [{ ...healthy().tenants[0]!, members: { groupId: 'defender-writer.contoso', state: 'Empty', members: [] } }] }, /tenant contoso: no live writer/],
      [{ tenants: [] }, /no tenant found/],
    ];
    for (const [over, expected] of cases) {
      const found = attention(healthy(over));
      assert.ok(found.some((f) => expected.test(f)), `${expected} in ${JSON.stringify(found)}`);
      assert.equal(evaluateStatus(healthy(over), T).exitCode, 1);
    }
  });

  test('a snapshot older than three intervals is from a stopped instance: not counted', () => {
    const r = evaluateStatus(healthy({ snapshots: [writerSnapshot({ octi_writer_paused: sample(1) }, NOW - 60_000)] }), T);
    assert.equal(r.exitCode, 0);
    assert.equal(r.tenants[0]?.writers[0]?.paused, undefined);
  });
});

describe('key standing (status --keys)', () => {
  const cfg = loadWriterConfig({
    KAFKA_BROKERS: 'k:9092',
    WRITER_TENANT_NAME: 'contoso',
    MICROSOFT_DEFENDER_INTEL_TENANT_ID: 't',
    MICROSOFT_DEFENDER_INTEL_CLIENT_ID: '45097602-1234-4678-9234-9f453233e62c',
    MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: 's',
  });
  const claim = (tlp: string | null) => ({
    sourceId: 'i1',
    streamId: 's',
    eventId: `${NOW - 1000}-0`,
    at: NOW - 1000,
    facts: {
      type: 'IpAddress',
      value: '45.155.205.9',
      name: null,
      description: null,
      score: 80,
      confidence: null,
      labels: [],
      markings: tlp ? [tlp] : [],
      tlp,
      validFrom: null,
      validUntil: null,
      revoked: false,
      detection: null,
      createdBy: null,
      created: null,
      updated: null,
    },
  });
  test('in Defender, waiting, refused (same version), or not sent by policy with its reason', () => {
    assert.equal(standing(JSON.stringify({ claims: [claim(null)], applied: { id: '1', identity: 'x', hash: 'h', expiresAt: NOW + 1 } }), cfg, NOW), 'in');
    assert.equal(standing(JSON.stringify({ claims: [claim(null)] }), cfg, NOW), 'waiting');
    assert.equal(standing(JSON.stringify({ claims: [] }), cfg, NOW), undefined);
    assert.match(standing(JSON.stringify({ claims: [claim('TLP:RED')] }), cfg, NOW) ?? '', /^policy:/);
    const d = desiredFor([claim(null)] as never, policyFromConfig(cfg), NOW);
    assert.ok(d.present);
    assert.equal(standing(JSON.stringify({ claims: [claim(null)], rejectedHash: d.hash }), cfg, NOW), 'rejected');
  });
});
