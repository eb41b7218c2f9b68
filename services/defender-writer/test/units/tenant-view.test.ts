// The tenant view against the Defender emulator: room from a listing, limits learned from refusals,
// looks at what other creators added since.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startDefenderEmulator, type DefenderEmulator } from '@octi-defender/emulators';
import { createLogger, createRegistry } from '@octi-defender/platform';
import type { WriterConfig } from '../../src/config.ts';
import { DefenderMetrics } from '../../src/defender/metrics.ts';
import type { ImportOutcome } from '../../src/defender/model.ts';
import { createWriterMetrics } from '../../src/metrics.ts';
import { CapIndex } from '../../src/state/cap.ts';
import { KeyTracking } from '../../src/state/key-tracking.ts';
import { StateStore } from '../../src/state/state-store.ts';
import { TenantView } from '../../src/tasks/tenant-view.ts';
import { CLIENT_ID, emulatorClient, ind, SECRET, TENANT } from '../client-fixtures.ts';

let emu: DefenderEmulator;
before(async () => {
  emu = await startDefenderEmulator({ tenantId: TENANT, clients: [{ clientId: CLIENT_ID, clientSecret: SECRET }], port: 0, rateLimits: false });
});
after(() => emu.close());
beforeEach(() => emu.reset());

const log = createLogger({ name: 'test', level: 'silent' });
const call = {};

function setup(over: Partial<WriterConfig> = {}) {
  const cfg = { clientId: CLIENT_ID, maxIndicators: 15_000, tenantLimit: 200, foreignCheckMs: 1, ...over } as WriterConfig;
  const registry = createRegistry({ prefix: 'test' });
  const many = [{ limit: 100_000, windowMs: 60_000 }];
  const client = emulatorClient(emu, { metrics: new DefenderMetrics(registry), quotas: { import: many, batchDelete: many, list: many } });
  const store = new StateStore({ dir: ':memory:', cacheBytes: 1 << 20, partitionOf: () => 0 });
  const cap = new CapIndex(0, { db: store.db, partitionOf: () => 0 });
  const keys = new KeyTracking(() => 0);
  let reconciles = 0;
  const tenant = new TenantView({ cfg, client, store, cap, keys, metrics: createWriterMetrics(registry), logger: log, now: () => Date.now(), reconcileNow: () => void reconciles++ });
  return { tenant, cap, keys, client, reconciles: () => reconciles, close: async () => (store.close(), await client.close()) };
}

const seedForeign = (n: number, from = 0) =>
  emu.seedIndicators(
    Array.from({ length: n }, (_, i) => ind(from + i)),
    { clientId: 'other' },
  );
const refusal = (reason: string): ImportOutcome => ({ ok: false, permanent: false, category: 'cap', reason });

describe('TenantView', () => {
  test('the room is the share of what the others leave under the limit', async () => {
    const t = setup();
    seedForeign(60);
    t.tenant.applyRoom(0.5);
    await t.tenant.refresh(call);
    assert.equal(t.cap.capacity, 70, 'floor((200 − 60) × 0.5)');
    assert.equal(t.tenant.stale, false);
    assert.match(t.tenant.detail(), /room 70 \(tenant: 140 of limit 200, others hold 60\)/);
    await t.close();
  });

  test('a refusal naming the limit: re-listed, the named limit kept across reconciliations', async () => {
    const t = setup();
    seedForeign(60);
    emu.seedIndicators([ind(100), ind(101), ind(102), ind(103)], { clientId: CLIENT_ID });
    t.tenant.applyRoom(1);
    await t.tenant.refresh(call);
    t.tenant.refused([refusal('The tenant reached its limit of 64 active indicators.')]);
    assert.equal(t.tenant.stale, true);
    assert.equal(t.reconciles(), 1, 'our orphans also take room: a reconciliation');
    t.tenant.refused([refusal('The tenant reached its limit of 64 active indicators.')]);
    assert.equal(t.reconciles(), 1, 'at most once a minute');
    await t.tenant.refresh(call);
    assert.match(t.tenant.detail(), /tenant: 4 of limit 64/);
    t.tenant.beforeReconcile();
    t.tenant.beforeReconcile();
    await t.tenant.refresh(call);
    assert.match(t.tenant.detail(), /limit 64/, 'a named limit is Defender’s word');
    await t.close();
  });

  test('a refusal naming no limit: inferred from the listing, tried at the configured value after a reconciliation without refusal', async () => {
    const t = setup();
    seedForeign(60);
    t.tenant.applyRoom(1);
    t.tenant.refused([refusal('limit reached')]);
    t.tenant.deleted(20);
    await t.tenant.refresh(call);
    assert.match(t.tenant.detail(), /tenant: 20 of limit 80/, 'listed 60 + deleted since 20');
    t.tenant.beforeReconcile();
    await t.tenant.refresh(call);
    assert.match(t.tenant.detail(), /limit 80/, 'the reconciliation right after the refusal keeps it');
    t.tenant.beforeReconcile();
    await t.tenant.refresh(call);
    assert.match(t.tenant.detail(), /tenant: 140 of limit 200/, 'none since: the configured limit again');
    await t.close();
  });

  test('a look finds what others added since the listing; their keys are held from then on', async () => {
    const t = setup();
    t.tenant.applyRoom(1);
    await t.tenant.refresh(call);
    const [added] = seedForeign(1, 42);
    assert.ok(added);
    await new Promise((r) => setTimeout(r, 5));
    await t.tenant.look(call);
    assert.equal(t.tenant.foreign?.holds(`IpAddress:${added.indicatorValue}`), true);
    await t.close();
  });
});
