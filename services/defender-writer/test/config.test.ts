import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConfigError } from '@octi-defender/platform';
import { loadWriterConfig, parseExpirationDays, parseNameList, parseScoreRules, policyFromConfig } from '../src/config.ts';
import { configuredActionFor } from '../src/core/policy.ts';

const base = {
  KAFKA_BROKERS: 'localhost:9092',
  WRITER_TENANT_NAME: 'contoso',
  MICROSOFT_DEFENDER_INTEL_TENANT_ID: 'contoso.onmicrosoft.com',
  MICROSOFT_DEFENDER_INTEL_CLIENT_ID: '3f2504e0-4f89-41d3-9a0c-0305e82c3301',
  MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: 'super-secret-value',
};

describe('writer configuration', () => {
  test('defaults', () => {
    const c = loadWriterConfig(base);
    assert.equal(c.baseUrl, 'https://api.securitycenter.microsoft.com');
    assert.equal(c.scope, 'https://api.securitycenter.microsoft.com/.default');
    assert.equal(c.expireDays, 30);
    assert.equal(c.maxIndicators, 15000);
    assert.equal(c.consumerGroup, 'defender-writer.contoso');
    assert.equal(c.stateTopic, 'defender-writer.contoso.state');
    assert.equal(c.dryRun, false);
    const p = policyFromConfig(c);
    assert.equal(configuredActionFor(65, p), 'Block');
    assert.deepEqual([...p.tlpNever], ['TLP:RED']);
    assert.equal(p.requireDetection, false);
    assert.equal(policyFromConfig(loadWriterConfig({ ...base, DEFENDER_REQUIRE_DETECTION: 'true' })).requireDetection, true);
  });
  test('connector forms: JSON array or comma list of RBAC groups, fixed action', () => {
    const c = loadWriterConfig({ ...base, MICROSOFT_DEFENDER_INTEL_RBAC_GROUP_NAMES: '["SOC", "Servers"]', MICROSOFT_DEFENDER_INTEL_ACTION: 'Alert' });
    assert.deepEqual(c.rbacGroupNames, ['SOC', 'Servers']);
    assert.equal(c.action, 'Alert');
    assert.deepEqual(parseNameList('a, b,,c'), ['a', 'b', 'c']);
  });
  test('all problems in one error, the secret never shown', () => {
    assert.throws(
      () =>
        loadWriterConfig({
          ...base,
          MICROSOFT_DEFENDER_INTEL_MAX_INDICATORS: '20000',
          DEFENDER_SAFELIST: 'bad entry!',
          MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: '',
          DEFENDER_SCORE_ACTIONS: '50:Block',
        }),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.problems.length, 4);
        assert.ok(!e.message.includes('super-secret-value'));
        return true;
      },
    );
  });
  test('cross-field rules', () => {
    assert.throws(() => loadWriterConfig({ ...base, DEFENDER_RETRY_BASE_MS: '5000', DEFENDER_RETRY_MAX_MS: '100' }), /DEFENDER_RETRY_BASE_MS/);
    assert.throws(() => loadWriterConfig({ ...base, DEFENDER_TLP_EXPIRATION_DAYS: '{"tlp:red": 3}' }), /DEFENDER_TLP_NEVER/);
  });
  test('the decoded-state cache fits the heap limit: at most a quarter of it', () => {
    const deployed = 240 * 2 ** 20; // heap_size_limit under the Deployment's NODE_OPTIONS (old space 192 MiB + young generation)
    assert.equal(loadWriterConfig(base, deployed).stateCacheMb, 16);
    assert.equal(loadWriterConfig({ ...base, WRITER_STATE_CACHE_MB: '60' }, deployed).stateCacheMb, 60);
    assert.throws(() => loadWriterConfig({ ...base, WRITER_STATE_CACHE_MB: '61' }, deployed), /WRITER_STATE_CACHE_MB \(61\) must be at most a quarter of the V8 heap limit \(240 MiB\)/);
    assert.throws(() => loadWriterConfig({ ...base, WRITER_FETCH_BYTES_PER_PARTITION: String(16 * 2 ** 20) }), /WRITER_FETCH_BYTES_PER_PARTITION/);
  });
  test('score rules and expiration maps', () => {
    assert.deepEqual(parseScoreRules('0:Audit, 60:Block'), [{ min: 60, action: 'Block' }, { min: 0, action: 'Audit' }]);
    assert.throws(() => parseScoreRules('60:Nuke,0:Audit'), /bad rule/);
    assert.throws(() => parseScoreRules('60:Block,60:Warn,0:Audit'), /twice/);
    assert.deepEqual(parseExpirationDays('{"IpAddress": 7}'), { IpAddress: 7 });
    assert.throws(() => parseExpirationDays('{"Ip": 7}'), /unknown indicator type/);
    assert.throws(() => parseExpirationDays('{"IpAddress": 0}'), /days/);
  });
});
