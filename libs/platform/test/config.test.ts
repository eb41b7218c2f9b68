import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, envVar, kafkaEnv, kafkaProblems, loadConfig, parse, secretValues } from '../src/index.ts';

const spec = {
  url: envVar({ env: 'OPENCTI_URL', description: 'OpenCTI base URL', schema: parse.url(), format: 'an http(s) URL' }),
  token: envVar({ env: 'OPENCTI_TOKEN', description: 'OpenCTI API token', schema: parse.string(), secret: true, format: 'a token' }),
  streams: envVar({ env: 'CONNECTOR_LIVE_STREAM_ID', description: 'Live stream ids', schema: parse.list(), format: 'comma-separated ids' }),
  listenDelete: envVar({ env: 'CONNECTOR_LIVE_STREAM_LISTEN_DELETE', description: 'deletes', schema: parse.bool(), default: 'true', format: 'true or false' }),
  port: envVar({ env: 'HTTP_PORT', description: 'port', schema: parse.int({ min: 0, max: 65535 }), default: '9464', format: 'a TCP port' }),
  level: envVar({ env: 'LVL', description: 'level', schema: parse.oneOf(['info', 'debug'] as const), default: 'info', format: 'info or debug' }),
  caFile: envVar({ env: 'CA_FILE', description: 'CA', schema: parse.string(), optional: true, format: 'a path' }),
};

test('loads typed values, applies defaults and trims', () => {
  const cfg = loadConfig(spec, {
    OPENCTI_URL: ' https://opencti.example.com/ ',
    OPENCTI_TOKEN: 'tok-123456',
    CONNECTOR_LIVE_STREAM_ID: 'a, b ,,c',
    LVL: 'debug',
  });
  assert.deepEqual(cfg, {
    url: 'https://opencti.example.com',
    token: 'tok-123456',
    streams: ['a', 'b', 'c'],
    listenDelete: true,
    port: 9464,
    level: 'debug',
    caFile: undefined,
  });
});

test('names every missing or invalid variable in one error, with the expected form', () => {
  let err: unknown;
  try {
    loadConfig(spec, { OPENCTI_URL: 'ftp://x', CONNECTOR_LIVE_STREAM_LISTEN_DELETE: 'maybe', HTTP_PORT: '70000', LVL: 'loud' });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  assert.equal(err.problems.length, 6);
  const msg = err.message;
  assert.match(msg, /^Invalid configuration \(6 problems\)/);
  assert.match(msg, /OPENCTI_URL is invalid \(got "ftp:\/\/x"\): not a valid http\/https URL; expected an http\(s\) URL/);
  assert.match(msg, /OPENCTI_TOKEN is required: OpenCTI API token \(expected a token\)/);
  assert.match(msg, /CONNECTOR_LIVE_STREAM_ID is required/);
  assert.match(msg, /CONNECTOR_LIVE_STREAM_LISTEN_DELETE is invalid \(got "maybe"\): not a boolean/);
  assert.match(msg, /HTTP_PORT is invalid \(got "70000"\)/);
  assert.match(msg, /LVL is invalid \(got "loud"\): must be one of info, debug/);
});

test('never prints the value of a secret variable', () => {
  const secretSpec = {
    secret: envVar({ env: 'S', description: 'secret', schema: parse.string().refine((s) => s.startsWith('ok'), 'bad prefix'), secret: true, format: 'ok…' }),
  };
  assert.throws(
    () => loadConfig(secretSpec, { S: 'hunter2-super-secret' }),
    (e: unknown) => e instanceof ConfigError && e.message.includes('S is invalid: bad prefix') && !e.message.includes('hunter2'),
  );
  assert.deepEqual(secretValues(spec, { OPENCTI_TOKEN: 'tok-abc', OPENCTI_URL: 'https://x' }), ['tok-abc']);
});

test('empty values count as unset', () => {
  assert.throws(() => loadConfig(spec, { OPENCTI_URL: '', OPENCTI_TOKEN: ' ', CONNECTOR_LIVE_STREAM_ID: 'a' }), /OPENCTI_URL is required[\s\S]*OPENCTI_TOKEN is required/);
  assert.throws(
    () => loadConfig(spec, { OPENCTI_URL: 'https://x', OPENCTI_TOKEN: 't', CONNECTOR_LIVE_STREAM_ID: ' , ' }),
    /CONNECTOR_LIVE_STREAM_ID is invalid \(got ","\): must list at least one value/,
  );
});

test('an entry point with a bad configuration prints the problems and exits with status 2', async () => {
  const { spawnSync } = await import('node:child_process');
  const script = `import { envVar, loadConfig, loadConfigOrExit, parse } from '@octi-defender/platform';
loadConfigOrExit('svc', () => loadConfig({ t: envVar({ env: 'SVC_TOKEN', description: 'a token', schema: parse.string().min(99), secret: true, format: 'a long token' }) }));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, SVC_TOKEN: 'short-secret-value' }, encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /^svc: Invalid configuration \(1 problem\):\n {2}- SVC_TOKEN is invalid: /);
  assert.ok(!r.stderr.includes('short-secret-value'));
});

test('the ChangeMe placeholder of .env.example is refused for any variable, secrets included, without echoing values', () => {
  assert.throws(
    () => loadConfig(spec, { OPENCTI_URL: 'https://opencti.example.com', OPENCTI_TOKEN: 'ChangeMe', CONNECTOR_LIVE_STREAM_ID: 'changeme' }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems, [
        'OPENCTI_TOKEN is still the placeholder ChangeMe: OpenCTI API token (expected a token)',
        'CONNECTOR_LIVE_STREAM_ID is still the placeholder ChangeMe: Live stream ids (expected comma-separated ids)',
      ]);
      return true;
    },
  );
});

test('an incomplete SASL or TLS setting is a problem', () => {
  const kafka = (env: Record<string, string>) => kafkaProblems(loadConfig(kafkaEnv, { KAFKA_BROKERS: 'k:9092', ...env }));
  assert.deepEqual(kafka({}), []);
  assert.deepEqual(kafka({ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p4ssword' }), []);
  assert.deepEqual(kafka({ KAFKA_SASL_MECHANISM: 'plain', KAFKA_SASL_USERNAME: 'u' }), ['KAFKA_SASL_MECHANISM is set: KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required too']);
  assert.match(kafka({ KAFKA_SASL_PASSWORD: 'p4ssword' })[0] ?? '', /^KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD is set without KAFKA_SASL_MECHANISM/);
  assert.match(kafka({ KAFKA_SSL_CA_FILE: '/ca.pem' })[0] ?? '', /^KAFKA_SSL_CA_FILE is set but KAFKA_SSL is false/);
});
