// The alerts API of the Defender emulator against Microsoft's List alerts and Alert resource pages:
// GET /api/alerts with OData $filter on the documented properties (lastUpdateTime, detectionSource…),
// $top at most 10,000 and $skip, $expand=evidence, 100 calls a minute and 1,500 an hour, and the
// documented alert fields; alerts raised by custom indicators carry detectionSource "CustomerTI".
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { startDefenderEmulator, type DefenderEmulator } from '../src/index.ts';
import { api, CLIENT, indicator, TENANT, token } from './defender-helpers.ts';

const SHA256 = 'a4752c71d81afd3d5865d24ddb11a6b0c615062fcc448d24050c2172d2cbccd6';
type Page = { '@odata.context': string; value: Array<Record<string, unknown>>; '@odata.nextLink'?: string };

describe('Defender emulator: alerts API', () => {
  let mde: DefenderEmulator;
  let call: ReturnType<typeof api>;
  let clock = Date.parse('2026-12-05T10:00:00Z');
  before(async () => {
    mde = await startDefenderEmulator({ tenantId: TENANT, clients: [CLIENT], clock: () => clock, startTime: '2026-12-05T10:00:00Z', maxPageSize: 3 });
  });
  after(() => mde.close());
  beforeEach(async () => {
    mde.reset();
    call = api(mde, await token(mde));
  });

  test('an alert raised on an indicator has the documented fields, CustomerTI and the matching evidence', async () => {
    mde.seedIndicators([
      indicator('93.184.216.34', { action: 'Audit', generateAlert: true, severity: 'High' }),
      indicator(SHA256, { indicatorType: 'FileSha256', action: 'Audit', generateAlert: true }),
    ], CLIENT);
    const ip = mde.raiseAlert({ indicatorType: 'IpAddress', indicatorValue: '93.184.216.34', computerDnsName: 'pc1.contoso.local', eventTime: '2026-12-05T09:59:00Z' });
    mde.raiseAlert({ indicatorType: 'FileSha256', indicatorValue: SHA256.toUpperCase() });
    const page = (await call('GET', '/api/alerts?$expand=evidence')).json() as Page;
    assert.equal(page['@odata.context'], 'https://api.security.microsoft.com/api/$metadata#Alerts');
    assert.equal(page.value.length, 2);
    const [a, f] = page.value;
    for (
      const field of [
        'id',
        'incidentId',
        'investigationId',
        'assignedTo',
        'severity',
        'status',
        'classification',
        'determination',
        'investigationState',
        'detectionSource',
        'detectorId',
        'category',
        'threatFamilyName',
        'title',
        'description',
        'alertCreationTime',
        'firstEventTime',
        'lastEventTime',
        'lastUpdateTime',
        'resolvedTime',
        'machineId',
        'computerDnsName',
        'rbacGroupName',
        'aadTenantId',
        'threatName',
        'mitreTechniques',
        'relatedUser',
        'comments',
        'evidence',
      ]
    ) {
      assert.ok(field in a!, `field ${field}`);
    }
    assert.equal(a!.id, ip.id);
    assert.match(String(a!.id), /^da\d+_\d+$/);
    assert.equal(a!.detectionSource, 'CustomerTI');
    assert.equal(a!.severity, 'High');
    assert.equal(a!.title, 't 93.184.216.34');
    assert.equal(a!.computerDnsName, 'pc1.contoso.local');
    assert.equal(a!.aadTenantId, TENANT);
    assert.equal(a!.firstEventTime, '2026-12-05T09:59:00.0000000Z');
    assert.equal(a!.alertCreationTime, '2026-12-05T10:00:00.0000000Z');
    const [ev] = a!.evidence as Array<Record<string, unknown>>;
    assert.equal(ev!.entityType, 'Ip');
    assert.equal(ev!.ipAddress, '93.184.216.34');
    assert.equal(ev!.detectionStatus, 'Detected');
    const [fe] = f!.evidence as Array<Record<string, unknown>>;
    assert.deepEqual([fe!.entityType, fe!.sha256, fe!.sha1], ['File', SHA256, null]);
    assert.equal(f!.severity, 'Informational');
  });

  test('evidence only with $expand=evidence; any other expansion is an ODataError', async () => {
    mde.seedIndicators([indicator('93.184.216.34')], CLIENT);
    mde.raiseAlert({ indicatorType: 'IpAddress', indicatorValue: '93.184.216.34' });
    const plain = (await call('GET', '/api/alerts')).json() as Page;
    assert.equal('evidence' in plain.value[0]!, false);
    const bad = await call('GET', '/api/alerts?$expand=machine');
    assert.equal(bad.status, 400);
    assert.equal((bad.json() as { error: { code: string } }).error.code, 'ODataError');
  });

  test('$filter on lastUpdateTime and detectionSource; an undocumented property is refused', async () => {
    mde.seedIndicators([indicator('93.184.216.34'), indicator('93.184.216.35')], CLIENT);
    const early = mde.raiseAlert({ indicatorType: 'IpAddress', indicatorValue: '93.184.216.34' });
    clock += 60_000;
    const late = mde.raiseAlert({ indicatorType: 'IpAddress', indicatorValue: '93.184.216.35' });
    const since = (t: string) => call('GET', `/api/alerts?$filter=${encodeURIComponent(`detectionSource eq 'CustomerTI' and lastUpdateTime ge ${t}`)}`);
    assert.deepEqual(((await since('2026-12-05T10:00:30Z')).json() as Page).value.map((a) => a.id), [late.id]);
    assert.deepEqual(((await since('2026-12-05T10:00:00Z')).json() as Page).value.map((a) => a.id), [early.id, late.id]);
    const other = await call('GET', `/api/alerts?$filter=${encodeURIComponent("detectionSource eq 'WindowsDefenderAtp'")}`);
    assert.deepEqual((other.json() as Page).value, []);
    // An update of the event moves lastUpdateTime: the alert is read again by a poll since then.
    clock += 60_000;
    const repeated = mde.repeatAlert(early.id);
    assert.equal(repeated.lastUpdateTime, '2026-12-05T10:02:00.0000000Z');
    assert.deepEqual(((await since('2026-12-05T10:01:30Z')).json() as Page).value.map((a) => a.id), [early.id]);
    const refused = await call('GET', `/api/alerts?$filter=${encodeURIComponent("indicatorValue eq 'x'")}`);
    assert.equal(refused.status, 400);
    assert.match((refused.json() as { error: { message: string } }).error.message, /on type 'Alert'/);
  });

  test('paging: $top and $skip, a nextLink without $top, $top above the maximum refused', async () => {
    mde.seedIndicators([indicator('93.184.216.34')], CLIENT);
    const ids = Array.from({ length: 5 }, () => mde.raiseAlert({ indicatorType: 'IpAddress', indicatorValue: '93.184.216.34' }).id);
    const first = (await call('GET', '/api/alerts')).json() as Page;
    assert.deepEqual(first.value.map((a) => a.id), ids.slice(0, 3));
    assert.ok(first['@odata.nextLink']);
    const next = new URL(first['@odata.nextLink']);
    const second = (await call('GET', `${next.pathname}${next.search}`)).json() as Page;
    assert.deepEqual(second.value.map((a) => a.id), ids.slice(3));
    assert.equal(second['@odata.nextLink'], undefined);
    const skip = (await call('GET', '/api/alerts?$top=2&$skip=2')).json() as Page;
    assert.deepEqual(skip.value.map((a) => a.id), ids.slice(2, 4));
    assert.equal(skip['@odata.nextLink'], undefined);
    assert.equal((await call('GET', '/api/alerts?$top=4')).status, 400);
  });

  test('100 calls a minute, then 429 with Retry-After; unauthenticated calls get 401', async () => {
    for (let i = 0; i < 100; i++) assert.equal((await call('GET', '/api/alerts?$top=1')).status, 200);
    const limited = await call('GET', '/api/alerts?$top=1');
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal((await api(mde, 'not-a-token')('GET', '/api/alerts')).status, 401);
  });

  test('raising an alert needs an active indicator', () => {
    assert.throws(() => mde.raiseAlert({ indicatorType: 'IpAddress', indicatorValue: '93.184.216.99' }), /no active indicator/);
  });
});
