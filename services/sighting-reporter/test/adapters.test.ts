// The reporter's adapters against the emulators over HTTP: every page of the alerts, a 429 waited
// out, OpenCTI's answers told apart (refused for good, unavailable), a deleted sighting re-created.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DefenderMetrics } from '@octi-defender/defender-writer/defender/metrics';
import { TokenProvider } from '@octi-defender/defender-writer/defender/token';
import { startDefenderEmulator, startOpenCtiEmulator, OCTI_EXT, type DefenderEmulator, type OpenCtiEmulator } from '@octi-defender/emulators';
import { createRegistry, metricTotal } from '@octi-defender/platform';
import { DefenderAlertsClient } from '../src/alerts-client.ts';
import { OpenCtiClient, OpenCtiRefusedError, OpenCtiUnavailableError } from '../src/opencti.ts';
import { daySightingId } from '../src/sighting-id.ts';
import { CLIENT_ID, SECRET, TENANT } from './helpers.ts';

describe('alerts client against the Defender emulator', () => {
  let mde: DefenderEmulator;
  before(async () => {
    // The emulated clock runs 60× faster: a minute's window passes in a second, and so does Retry-After.
    mde = await startDefenderEmulator({ tenantId: TENANT, clients: [{ clientId: CLIENT_ID, clientSecret: SECRET }], port: 0, timeScale: 60, rateLimits: { alerts: [{ limit: 1, windowMs: 60_000 }] } });
    mde.seedIndicators([{ indicatorValue: '45.33.32.20', indicatorType: 'IpAddress', action: 'Audit', generateAlert: true, title: 't', description: 'd' }], { clientId: CLIENT_ID });
  });
  after(() => mde.close());

  test('reads every page ($top/$skip) of the alerts updated since a time, waiting out 429s', async () => {
    const since = new Date(mde.now() - 1000);
    const ids = Array.from({ length: 5 }, () => mde.raiseAlert({ indicatorType: 'IpAddress', indicatorValue: '45.33.32.20' }).id);
    const registry = createRegistry({ prefix: 'octi_reporter' });
    const tokens = new TokenProvider({
      tenantId: TENANT,
      clientId: CLIENT_ID,
      clientSecret: SECRET,
      loginUrl: 'https://login.microsoftonline.com',
      scope: 'https://api.securitycenter.microsoft.com/.default',
      tokenEndpoint: mde.tokenUrl,
    });
    const client = new DefenderAlertsClient({ baseUrl: mde.url, tokens, perMinute: 100, perHour: 1500, pageSize: 2, timeoutMs: 5000, metrics: new DefenderMetrics(registry) });
    try {
      const alerts = (await client.listUpdatedSince(since)) as Array<{ id: string; evidence: unknown[] }>;
      assert.deepEqual(alerts.map((a) => a.id), ids);
      assert.ok(alerts.every((a) => a.evidence.length === 1), 'with their evidence');
      const calls = mde.requests('alerts');
      assert.ok(calls.some((r) => r.status === 429), 'the emulator throttled some call');
      assert.equal(calls.filter((r) => r.status === 200).length, 3, 'three pages of 2, 2 and 1');
      assert.equal(await metricTotal(registry, 'defender_api_calls_total', { endpoint: 'alerts', status: '429' }), calls.filter((r) => r.status === 429).length);
      assert.deepEqual(await client.listUpdatedSince(new Date(mde.now() + 60_000)), [], 'nothing updated later');
    } finally {
      await client.close();
    }
  });
});

describe('OpenCTI client against the OpenCTI emulator', () => {
  let octi: OpenCtiEmulator;
  let indicatorId: string;
  before(async () => {
    octi = await startOpenCtiEmulator({ token: 'adapter-token', seed: 21, streams: [{ id: 'live' }] });
    const stix = octi.generator.indicator('domain');
    octi.append({ op: 'create', data: stix });
    indicatorId = (stix.extensions as Record<string, Record<string, string>>)[OCTI_EXT]!.id!;
  });
  after(() => octi.close());

  const client = (token = 'adapter-token') => new OpenCtiClient({ url: octi.url, token, sslVerify: true, timeoutMs: 5000 });

  test('creates, patches, re-creates a sighting deleted since; refusals and outages are told apart', async () => {
    const c = client();
    try {
      const where = await c.ensureIdentity('Tenant adapters', 'd');
      assert.equal(await c.ensureIdentity('tenant ADAPTERS', 'd'), where, 'the same identity again');
      const d = {
        stixId: daySightingId(indicatorId, where, '2026-12-05'),
        fromId: indicatorId,
        toId: where,
        count: 2,
        firstSeen: '2026-12-05T01:00:00.000Z',
        lastSeen: '2026-12-05T02:00:00.000Z',
        description: 'two',
      };
      const first = await c.write(d, undefined);
      assert.equal(first.created, true);
      const updated = await c.write({ ...d, count: 3, lastSeen: '2026-12-05T03:00:00.000Z', description: 'three' }, first.id);
      assert.deepEqual([updated.id, updated.created], [first.id, false]);
      let [s] = octi.sightings();
      assert.deepEqual([s?.attribute_count, s?.last_seen, s?.description], [3, '2026-12-05T03:00:00.000Z', 'three']);
      // A stale OpenCTI id (the sighting was deleted): created again under the same stix id, count set, not added.
      const again = await c.write({ ...d, count: 3 }, 'deleted-sighting-id');
      assert.equal(again.created, true);
      assert.equal(octi.sightings().length, 1);
      [s] = octi.sightings();
      assert.equal(s?.attribute_count, 3);
      await assert.rejects(c.write({ ...d, fromId: 'gone' }, undefined), (e: unknown) => e instanceof OpenCtiRefusedError && e.code === 'MISSING_REFERENCE_ERROR');
      octi.setGraphqlDown(503);
      await assert.rejects(c.write(d, first.id), OpenCtiUnavailableError);
      octi.setGraphqlDown(undefined);
    } finally {
      await c.close();
    }
    const anonymous = client('wrong-token');
    try {
      await assert.rejects(anonymous.ensureIdentity('x', 'd'), (e: unknown) => e instanceof OpenCtiUnavailableError && /AUTH_REQUIRED/.test(e.message) && !e.message.includes('wrong-token'));
    } finally {
      await anonymous.close();
    }
    const closedPort = new OpenCtiClient({ url: 'http://127.0.0.1:9', token: 't', sslVerify: true, timeoutMs: 2000 });
    try {
      await assert.rejects(closedPort.ensureIdentity('x', 'd'), OpenCtiUnavailableError);
    } finally {
      await closedPort.close();
    }
  });
});
