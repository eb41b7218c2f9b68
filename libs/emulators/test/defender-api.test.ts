import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startDefenderEmulator } from '../src/index.ts';
import type { DefenderEmulator, Indicator } from '../src/index.ts';
import { api, CLIENT, indicator, OTHER, SCOPE, TENANT, token } from './defender-helpers.ts';

type ErrorBody = { error: { code: string; message: string; target: string } };

describe('Defender token endpoint', () => {
  let mde: DefenderEmulator;
  before(async () => {
    mde = await startDefenderEmulator({ tenantId: TENANT, clients: [CLIENT], tokenLifetimeSec: 3599 });
  });
  after(() => mde.close());
  const post = (fields: Record<string, string>, tenant = TENANT) =>
    fetch(`${mde.url}/${tenant}/oauth2/v2.0/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields) });
  const good = { grant_type: 'client_credentials', client_id: CLIENT.clientId, client_secret: CLIENT.clientSecret, scope: SCOPE };

  test('client credentials answer like Entra: token_type, expires_in 3599, ext_expires_in, access_token', async () => {
    const res = await post(good);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['token_type', 'expires_in', 'ext_expires_in', 'access_token']);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 3599);
    const claims = JSON.parse(Buffer.from((body.access_token as string).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims.appid, CLIENT.clientId);
    assert.deepEqual(claims.roles, ['Ti.ReadWrite.All']);
  });

  test('a wrong secret gets invalid_client with AADSTS7000215', async () => {
    const res = await post({ ...good, client_secret: 'wrong' });
    assert.equal(res.status, 400);
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['error', 'error_description', 'error_codes', 'timestamp', 'trace_id', 'correlation_id', 'error_uri']);
    assert.equal(body.error, 'invalid_client');
    assert.match(body.error_description as string, /^AADSTS7000215: Invalid client secret provided\./);
    assert.deepEqual(body.error_codes, [7000215]);
  });

  test('unknown tenant, unknown client, wrong grant and a scope without /.default are refused', async () => {
    assert.equal(((await (await post(good, 'nope')).json()) as { error_codes: number[] }).error_codes[0], 90002);
    assert.equal(((await (await post({ ...good, client_id: 'x' })).json()) as { error: string }).error, 'unauthorized_client');
    assert.equal(((await (await post({ ...good, grant_type: 'password' })).json()) as { error: string }).error, 'unsupported_grant_type');
    assert.equal(((await (await post({ ...good, scope: 'https://api.securitycenter.microsoft.com' })).json()) as { error: string }).error, 'invalid_scope');
  });
});

describe('Defender indicators API', () => {
  let mde: DefenderEmulator;
  let call: ReturnType<typeof api>;
  before(async () => {
    mde = await startDefenderEmulator({ tenantId: TENANT, clients: [CLIENT, OTHER], rateLimits: false, tokenLifetimeSec: 600, maxPageSize: 50 });
    call = api(mde, await token(mde));
  });
  after(() => mde.close());

  test('bearer tokens are checked on every call: missing, unknown and expired tokens get 401', async () => {
    const res = await fetch(`${mde.url}/api/indicators`);
    assert.equal(res.status, 401);
    const body = (await res.json()) as ErrorBody;
    assert.deepEqual(Object.keys(body), ['error']);
    assert.deepEqual(Object.keys(body.error), ['code', 'message', 'target']);
    assert.equal(body.error.code, 'Unauthorized');
    assert.match(body.error.target, /^[0-9a-f-]{36}$/);
    assert.equal((await api(mde, 'garbage')('GET', '/api/indicators')).status, 401);
    const shortLived = await token(mde);
    assert.equal((await api(mde, shortLived)('GET', '/api/indicators')).status, 200);
    mde.advanceClock(601_000);
    assert.equal((await api(mde, shortLived)('GET', '/api/indicators')).status, 401);
    call = api(mde, await token(mde));
    assert.equal((await call('GET', '/api/indicators')).status, 200);
  });

  test('POST submits or updates, keyed on value + type + action; application is set only on create', async () => {
    const first = await call('POST', '/api/indicators', indicator('8.8.4.4', { application: 'app-one', severity: 'High' }));
    assert.equal(first.status, 200);
    const created = first.json() as Indicator & { '@odata.context': string };
    assert.equal(created['@odata.context'], 'https://api.security.microsoft.com/api/$metadata#Indicators/$entity');
    assert.match(created.id, /^\d+$/);
    assert.equal(created.createdBy, CLIENT.clientId);
    assert.equal(created.createdBySource, 'PublicApi');
    assert.equal(created.sourceType, 'AadApp');
    assert.match(created.creationTimeDateTimeUtc, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
    assert.deepEqual(Object.keys(created).slice(1, 18), [
      'id',
      'indicatorValue',
      'indicatorType',
      'action',
      'application',
      'source',
      'sourceType',
      'title',
      'creationTimeDateTimeUtc',
      'createdBy',
      'expirationTime',
      'lastUpdateTime',
      'lastUpdatedBy',
      'severity',
      'description',
      'recommendedActions',
      'rbacGroupNames',
    ]);
    const again = (await call('POST', '/api/indicators', indicator('8.8.4.4', { application: 'app-two', title: 'new title' }))).json() as Indicator;
    assert.equal(again.id, created.id);
    assert.equal(again.application, 'app-one');
    assert.equal(again.title, 'new title');
    const otherAction = (await call('POST', '/api/indicators', indicator('8.8.4.4', { action: 'Warn' }))).json() as Indicator;
    assert.notEqual(otherAction.id, created.id);
    assert.equal(mde.indicators().filter((i) => i.indicatorValue === '8.8.4.4').length, 2);
  });

  test('the documented POST example is accepted as documented', async () => {
    const res = await call('POST', '/api/indicators', {
      indicatorValue: '220e7d15b011d7fac48f2bd61114db1022197f7f',
      indicatorType: 'FileSha1',
      title: 'test',
      application: 'demo-test',
      expirationTime: '2120-12-12T00:00:00Z',
      action: 'AlertAndBlock',
      severity: 'Informational',
      description: 'test',
      recommendedActions: 'nothing',
      rbacGroupNames: ['group1', 'group2'],
    });
    assert.equal(res.status, 200);
    const body = res.json() as Indicator;
    assert.equal(body.expirationTime, '2120-12-12T00:00:00Z');
    assert.deepEqual(body.rbacGroupNames, ['group1', 'group2']);
    assert.equal(body.source, 'TestPrdApp');
  });

  test('GET with $filter on indicatorValue, indicatorType, createdBy, application, action; $top and $skip', async () => {
    const theirs = mde.seedIndicators([indicator('1.0.0.1', { application: 'their-app' })], { clientId: OTHER.clientId, displayName: 'OtherApp' });
    assert.equal(theirs[0]!.createdBy, OTHER.clientId);
    await call('POST', '/api/indicators', indicator('1.0.0.1', { action: 'Warn', application: 'mine' }));
    await call('POST', '/api/indicators', indicator('evil.example.com', { indicatorType: 'DomainName', application: 'mine' }));
    const list = async (query: string): Promise<Indicator[]> => {
      const res = await call('GET', `/api/indicators?${query}`);
      assert.equal(res.status, 200, res.text);
      return (res.json() as { value: Indicator[] }).value;
    };
    const byValue = await list(`$filter=${encodeURIComponent("indicatorValue eq '1.0.0.1'")}`);
    assert.deepEqual(byValue.map((i) => i.createdBy).sort(), [CLIENT.clientId, OTHER.clientId].sort());
    assert.ok((await list(`$filter=${encodeURIComponent("indicatorType eq 'DomainName'")}`)).every((i) => i.indicatorType === 'DomainName'));
    const mine = await list(`$filter=${encodeURIComponent(`createdBy eq '${CLIENT.clientId}'`)}`);
    assert.ok(mine.length >= 3 && mine.every((i) => i.createdBy === CLIENT.clientId));
    assert.deepEqual((await list(`$filter=${encodeURIComponent("application eq 'mine' and indicatorType eq 'IpAddress'")}`)).map((i) => i.indicatorValue), ['1.0.0.1']);
    assert.ok((await list("$filter=action+eq+'AlertAndBlock'")).every((i) => i.action === 'AlertAndBlock'));
    const all = await list('');
    assert.deepEqual((await list('$top=2&$skip=1')).map((i) => i.id), all.slice(1, 3).map((i) => i.id));
    const raw = (await call('GET', '/api/indicators')).json() as Record<string, unknown>;
    assert.deepEqual(Object.keys(raw), ['@odata.context', 'value']);
    assert.equal(raw['@odata.context'], 'https://api.security.microsoft.com/api/$metadata#Indicators');
  });

  test('$filter string literals double their quotes; bad filters and $top over the maximum are 400 ODataError', async () => {
    await call('POST', '/api/indicators', indicator("https://x.example.com/a?b=c&d='e'", { indicatorType: 'Url' }));
    const filter = `indicatorValue eq '${"https://x.example.com/a?b=c&d='e'".replaceAll("'", "''")}'`;
    const found = (await call('GET', `/api/indicators?$filter=${encodeURIComponent(filter)}`)).json() as { value: Indicator[] };
    assert.equal(found.value.length, 1);
    const unterminated = await call('GET', "/api/indicators?$filter=indicatorValue eq 'http://a.b/?x=1&y=2'");
    assert.equal(unterminated.status, 400);
    assert.equal((unterminated.json() as ErrorBody).error.code, 'ODataError');
    assert.match((unterminated.json() as ErrorBody).error.message, /unterminated string literal/);
    assert.equal(((await call('GET', "/api/indicators?$filter=nope eq 'x'")).json() as ErrorBody).error.code, 'ODataError');
    const top = await call('GET', '/api/indicators?$top=51');
    assert.equal(top.status, 400);
    assert.match((top.json() as ErrorBody).error.message, /The limit of '50' for Top query has been exceeded/);
  });

  test('server-driven paging adds @odata.nextLink beyond the page size', async () => {
    const items = Array.from({ length: 60 }, (_, i) => indicator(`page${i}.example.org`, { indicatorType: 'DomainName' }));
    mde.seedIndicators(items, { clientId: CLIENT.clientId });
    const first = (await call('GET', '/api/indicators')).json() as { value: Indicator[]; '@odata.nextLink'?: string };
    assert.equal(first.value.length, 50);
    const next = new URL(first['@odata.nextLink']!);
    const second = (await call('GET', `${next.pathname}${next.search}`)).json() as { value: Indicator[]; '@odata.nextLink'?: string };
    assert.ok(second.value.length > 0);
    assert.equal(new Set([...first.value, ...second.value].map((i) => i.id)).size, first.value.length + second.value.length);
  });

  test('DELETE /api/indicators/{id}: 204, then 404', async () => {
    const created = (await call('POST', '/api/indicators', indicator('9.9.9.10'))).json() as Indicator;
    const deleted = await call('DELETE', `/api/indicators/${created.id}`);
    assert.equal(deleted.status, 204);
    assert.equal(deleted.text, '');
    const again = await call('DELETE', `/api/indicators/${created.id}`);
    assert.equal(again.status, 404);
    assert.equal((again.json() as ErrorBody).error.code, 'NotFound');
  });

  test('BatchDelete: 204 when all exist; 404 (nothing deleted) if any is missing; 400 when empty or over 500', async () => {
    const a = (await call('POST', '/api/indicators', indicator('9.9.9.11'))).json() as Indicator;
    const b = (await call('POST', '/api/indicators', indicator('9.9.9.12'))).json() as Indicator;
    const missing = await call('POST', '/api/indicators/BatchDelete', { IndicatorIds: [a.id, '999999'] });
    assert.equal(missing.status, 404);
    assert.ok(mde.indicators().some((i) => i.id === a.id));
    assert.equal((await call('POST', '/api/indicators/BatchDelete', { IndicatorIds: [a.id, b.id] })).status, 204);
    assert.equal(mde.indicators().some((i) => i.id === a.id || i.id === b.id), false);
    assert.equal((await call('POST', '/api/indicators/BatchDelete', { IndicatorIds: [] })).status, 400);
    const tooMany = await call('POST', '/api/indicators/BatchDelete', { IndicatorIds: Array.from({ length: 501 }, (_, i) => String(i + 1)) });
    assert.equal(tooMany.status, 400);
    assert.equal((tooMany.json() as ErrorBody).error.code, 'MaximumBatchSizeExceeded');
    assert.equal((await call('POST', '/api/indicators/BatchDelete', { indicatorIds: [a.id] })).status, 400);
  });

  test('import: HTTP 200 with per-item isFailed/failureReason; over 500 is MaximumBatchSizeExceeded; case-sensitive body', async () => {
    const res = await call('POST', '/api/indicators/import', { Indicators: [indicator('9.9.9.20'), indicator('10.0.0.1'), indicator('9.9.9.21', { action: 'Audit' })] });
    assert.equal(res.status, 200);
    const value = (res.json() as { value: { id: string | null; indicator: string; isFailed: boolean; failureReason: string | null }[] }).value;
    assert.deepEqual(value.map((v) => v.isFailed), [false, true, true]);
    assert.deepEqual(Object.keys(value[0]!), ['id', 'indicator', 'isFailed', 'failureReason']);
    assert.equal(value[1]!.indicator, '10.0.0.1');
    assert.match(value[1]!.failureReason!, /Internal or reserved IP/);
    assert.match(value[2]!.failureReason!, /generateAlert/);
    const tooMany = await call('POST', '/api/indicators/import', { Indicators: Array.from({ length: 501 }, (_, i) => indicator(`9.8.${i >> 8}.${(i & 255) + 1}`)) });
    assert.equal(tooMany.status, 400);
    assert.equal((tooMany.json() as ErrorBody).error.code, 'MaximumBatchSizeExceeded');
    assert.match((tooMany.json() as ErrorBody).error.message, /Received: 501, allowed: 500/);
    assert.equal((await call('POST', '/api/indicators/import', { indicators: [indicator('9.9.9.22')] })).status, 400);
  });

  test('body parameters are case-sensitive: externalID as the Indicator resource spells it is stored, externalId is refused', async () => {
    const res = await call('POST', '/api/indicators/import', {
      Indicators: [indicator('9.9.9.30', { externalID: 'octi-1' }), indicator('9.9.9.31', { externalId: 'octi-2' }), indicator('9.9.9.32', { GenerateAlert: true })],
    });
    const value = (res.json() as { value: { isFailed: boolean; failureReason: string | null }[] }).value;
    assert.deepEqual(value.map((v) => v.isFailed), [false, true, true]);
    assert.match(value[1]!.failureReason!, /'externalId'.*case-sensitive.*'externalID'/);
    assert.match(value[2]!.failureReason!, /'GenerateAlert'.*'generateAlert'/);
    const listed = (await call('GET', `/api/indicators?$filter=${encodeURIComponent("indicatorValue eq '9.9.9.30'")}`)).json() as { value: Indicator[] };
    assert.equal(listed.value[0]?.externalID, 'octi-1');
  });

  test('validation: required fields, hash lengths, URL scheme, CIDR, private and reserved IPs, Audit, BlockAndRemediate, certificates', async () => {
    const cases: [Record<string, unknown>, string | null][] = [
      [{ indicatorType: 'IpAddress', action: 'Block', title: 't', description: 'd' }, 'MissingRequiredParameter'],
      [{ IndicatorValue: '9.9.9.9', indicatorType: 'IpAddress', action: 'Block', title: 't', description: 'd' }, 'MissingRequiredParameter'],
      [indicator('9.9.9.9', { description: undefined }), 'MissingRequiredParameter'],
      [indicator(''), 'InvalidInput'],
      [indicator('abc', { indicatorType: 'FileSha1' }), 'InvalidHashValue'],
      [indicator('a'.repeat(63), { indicatorType: 'FileSha256' }), 'InvalidHashValue'],
      [indicator('a'.repeat(40), { indicatorType: 'FileMd5' }), 'InvalidHashValue'],
      [indicator('a'.repeat(32), { indicatorType: 'FileMd5' }), null],
      [indicator('example.com/path', { indicatorType: 'Url' }), 'InvalidUrl'],
      [indicator('https:\\\\example.com\\block', { indicatorType: 'Url' }), 'InvalidUrl'],
      [indicator('https://example.com/block', { indicatorType: 'Url' }), null],
      [indicator('8.8.8.0/24'), 'InvalidIpAddress'],
      [indicator('192.168.1.1'), 'InvalidIpAddress'],
      [indicator('127.0.0.1'), 'InvalidIpAddress'],
      [indicator('fe80:0:0:0:0:0:0:1'), 'InvalidIpAddress'],
      [indicator('2001:db8:0:0:0:0:0:1'), 'InvalidIpAddress'],
      [indicator('2001:4860:4860:0:0:0:0:8888'), null],
      [indicator('not a domain', { indicatorType: 'DomainName' }), 'InvalidDomainName'],
      [indicator('9.9.9.30', { action: 'Audit' }), 'InvalidRequestBody'],
      [indicator('9.9.9.30', { action: 'Audit', generateAlert: true }), null],
      [indicator('evil.example.net', { indicatorType: 'DomainName', action: 'BlockAndRemediate' }), 'InvalidRequestBody'],
      [indicator('b'.repeat(40), { indicatorType: 'FileSha1', action: 'BlockAndRemediate' }), null],
      [indicator('c'.repeat(40), { indicatorType: 'CertificateThumbprint', action: 'Block' }), 'InvalidRequestBody'],
      [indicator('c'.repeat(40), { indicatorType: 'CertificateThumbprint', action: 'BlockAndRemediate' }), null],
      [indicator('9.9.9.31', { action: 'Destroy' }), 'InvalidRequestBody'],
      [indicator('9.9.9.31', { indicatorType: 'Email' }), 'InvalidRequestBody'],
    ];
    for (const [body, code] of cases) {
      const res = await call('POST', '/api/indicators', body);
      if (code === null) assert.equal(res.status, 200, `${JSON.stringify(body)}: ${res.text}`);
      else {
        assert.equal(res.status, 400, JSON.stringify(body));
        assert.equal((res.json() as ErrorBody).error.code, code, JSON.stringify(body));
      }
    }
    const empty = await call('POST', '/api/indicators', indicator(''));
    assert.equal((empty.json() as ErrorBody).error.message, 'Recieved an empty indicator value.');
    assert.equal((await call('POST', '/api/indicators', '{not json')).status, 400);
  });

  test('expired indicators disappear', async () => {
    const soon = new Date(mde.now() + 60_000).toISOString();
    const created = (await call('POST', '/api/indicators', indicator('9.9.9.40', { expirationTime: soon }))).json() as Indicator;
    assert.ok(mde.indicators().some((i) => i.id === created.id));
    mde.advanceClock(61_000);
    call = api(mde, await token(mde));
    const list = (await call('GET', `/api/indicators?$filter=${encodeURIComponent("indicatorValue eq '9.9.9.40'")}`)).json() as { value: Indicator[] };
    assert.equal(list.value.length, 0);
    assert.equal((await call('DELETE', `/api/indicators/${created.id}`)).status, 404);
  });
});

test('the documented import example is reproduced byte-for-byte', async () => {
  const mde = await startDefenderEmulator({ tenantId: TENANT, clients: [CLIENT], firstId: 2841, startTime: '2021-01-01T00:00:00Z' });
  try {
    const call = api(mde, await token(mde));
    const res = await call(
      'POST',
      '/api/indicators/import',
      `{
    "Indicators":
    [
        {
            "indicatorValue": "220e7d15b011d7fac48f2bd61114db1022197f7f",
            "indicatorType": "FileSha1",
            "title": "demo",
            "application": "demo-test",
            "expirationTime": "2021-12-12T00:00:00Z",
            "action": "Alert",
            "severity": "Informational",
            "description": "demo2",
            "recommendedActions": "nothing",
            "rbacGroupNames": ["group1", "group2"]
        },
        {
            "indicatorValue": "2233223322332233223322332233223322332233223322332233223322332222",
            "indicatorType": "FileSha256",
            "title": "demo2",
            "application": "demo-test2",
            "expirationTime": "2021-12-12T00:00:00Z",
            "action": "Alert",
            "severity": "Medium",
            "description": "demo2",
            "recommendedActions": "nothing",
            "rbacGroupNames": []
        }
    ]
}`,
    );
    assert.equal(res.status, 200);
    const documented = {
      value: [
        { id: '2841', indicator: '220e7d15b011d7fac48f2bd61114db1022197f7f', isFailed: false, failureReason: null },
        { id: '2842', indicator: '2233223322332233223322332233223322332233223322332233223322332222', isFailed: false, failureReason: null },
      ],
    };
    assert.equal(res.text, JSON.stringify(documented));
    assert.equal(
      res.text,
      '{"value":[{"id":"2841","indicator":"220e7d15b011d7fac48f2bd61114db1022197f7f","isFailed":false,"failureReason":null},{"id":"2842","indicator":"2233223322332233223322332233223322332233223322332233223322332222","isFailed":false,"failureReason":null}]}',
    );
  } finally {
    await mde.close();
  }
});

test('the 15,000 active-indicator cap (configurable) refuses creates but not updates', async () => {
  const mde = await startDefenderEmulator({ tenantId: TENANT, clients: [CLIENT], cap: 3, rateLimits: false });
  try {
    const call = api(mde, await token(mde));
    const res = await call('POST', '/api/indicators/import', { Indicators: [indicator('9.9.9.1'), indicator('9.9.9.2'), indicator('9.9.9.3'), indicator('9.9.9.4')] });
    const value = (res.json() as { value: { isFailed: boolean; failureReason: string | null }[] }).value;
    assert.deepEqual(value.map((v) => v.isFailed), [false, false, false, true]);
    assert.match(value[3]!.failureReason!, /limit of 3 active indicators/);
    // The request log keeps each failed item's reason (a test can count refusals without the answer).
    assert.deepEqual(mde.requests('import').at(-1)?.failures, [value[3]!.failureReason]);
    const single = await call('POST', '/api/indicators', indicator('9.9.9.5'));
    assert.equal(single.status, 400);
    assert.equal((await call('POST', '/api/indicators', indicator('9.9.9.1', { title: 'updated' }))).status, 200);
  } finally {
    await mde.close();
  }
});

test('the default cap is 15,000 active indicators per tenant, whoever created them', async () => {
  const mde = await startDefenderEmulator({ tenantId: TENANT, clients: [CLIENT] });
  try {
    mde.seedIndicators(Array.from({ length: 15_000 }, (_, i) => indicator(`d${i}.example.org`, { indicatorType: 'DomainName' })), { clientId: OTHER.clientId });
    const call = api(mde, await token(mde));
    const res = await call('POST', '/api/indicators', indicator('9.9.9.1'));
    assert.equal(res.status, 400);
    assert.match((res.json() as ErrorBody).error.message, /limit of 15000 active indicators/);
  } finally {
    await mde.close();
  }
});
