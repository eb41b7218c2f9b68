import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '@octi-defender/platform';
import { loadReporterConfig } from '../src/config.ts';

const minimal = {
  KAFKA_BROKERS: 'kafka:9092',
  REPORTER_TENANT_NAME: 'contoso',
  OPENCTI_URL: 'https://opencti.example.com/',
  OPENCTI_TOKEN: 'octi-secret-token',
  MICROSOFT_DEFENDER_INTEL_TENANT_ID: 'contoso.onmicrosoft.com',
  MICROSOFT_DEFENDER_INTEL_CLIENT_ID: '3f2b8c1e-6a4d-4e7b-9c2a-1d5e8f7a6b4c',
  MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: 'entra-secret-value',
};

test('defaults: topic and where-sighted name from the tenant, documented quotas, TLS verified', () => {
  const c = loadReporterConfig(minimal);
  assert.equal(c.stateTopic, 'sighting-reporter.contoso.sightings');
  assert.equal(c.whereName, 'Microsoft Defender for Endpoint (contoso)');
  assert.equal(c.openctiUrl, 'https://opencti.example.com');
  assert.deepEqual([c.alertsPerMinute, c.alertsPerHour, c.pageSize, c.httpPort], [100, 1500, 1000, 9466]);
  assert.equal(c.openctiSslVerify, true);
  assert.equal(c.listShare, 0.1);
  const custom = loadReporterConfig({ ...minimal, KAFKA_TOPIC_SIGHTINGS: 'x.s', REPORTER_WHERE_SIGHTED_NAME: 'SOC tenant', REPORTER_LIST_QUOTA_SHARE: '1' });
  assert.deepEqual([custom.stateTopic, custom.whereName, custom.listShare], ['x.s', 'SOC tenant', 1]);
});

test('every problem named at once, secrets never shown', () => {
  assert.throws(
    () =>
      loadReporterConfig({
        ...minimal,
        REPORTER_TENANT_NAME: 'Bad Name',
        MICROSOFT_DEFENDER_INTEL_CLIENT_ID: 'x',
        REPORTER_ALERTS_PAGE_SIZE: '20000',
        REPORTER_LIST_QUOTA_SHARE: '0',
        OPENCTI_TOKEN: '',
      }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const text = e.message;
      for (const v of ['REPORTER_TENANT_NAME', 'MICROSOFT_DEFENDER_INTEL_CLIENT_ID', 'REPORTER_ALERTS_PAGE_SIZE', 'REPORTER_LIST_QUOTA_SHARE', 'OPENCTI_TOKEN is required']) {
        assert.match(text, new RegExp(v));
      }
      assert.doesNotMatch(text, /entra-secret-value/);
      return true;
    },
  );
});

test('the owned-indicator refresh must fit twice in the overlap', () => {
  assert.throws(() => loadReporterConfig({ ...minimal, REPORTER_OWNED_REFRESH_MS: '400000' }), /REPORTER_OWNED_REFRESH_MS must be at most half of REPORTER_OVERLAP_MS/);
  assert.doesNotThrow(() => loadReporterConfig({ ...minimal, REPORTER_OWNED_REFRESH_MS: '60000', REPORTER_OVERLAP_MS: '120000' }));
});
