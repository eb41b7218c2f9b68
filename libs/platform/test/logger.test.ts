import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, REDACTED } from '../src/index.ts';

function capture(): { lines: string[]; destination: Writable } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, destination };
}

test('redacts authorization headers, tokens and client secrets by path', () => {
  const { lines, destination } = capture();
  const log = createLogger({ name: 't', destination });
  log.info({ headers: { authorization: 'Bearer abc.def', 'x-api-key': 'k1' }, clientSecret: 's3', token: 't4' }, 'request');
  log.child({ component: 'writer' }).info({ req: { headers: { Authorization: 'Basic zzz' } }, cfg: { client_secret: 'q' } }, 'nested');
  const [first, second] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(first?.headers, { authorization: REDACTED, 'x-api-key': REDACTED });
  assert.equal(first?.clientSecret, REDACTED);
  assert.equal(first?.token, REDACTED);
  assert.equal(second?.component, 'writer');
  assert.deepEqual(second?.req, { headers: { Authorization: REDACTED } });
  assert.deepEqual(second?.cfg, { client_secret: REDACTED });
  assert.equal(first?.level, 'info');
});

test('scrubs configured secret values and bearer tokens anywhere, including error messages', () => {
  const { lines, destination } = capture();
  const secret = 'S3cr3t-"quoted"-value';
  const log = createLogger({ name: 't', destination, secrets: [secret, 'opencti-token-0001'] });
  log.error({ err: new Error(`token endpoint rejected client secret ${secret}`) }, 'auth failed');
  log.warn({ url: 'https://opencti/stream?token=opencti-token-0001' }, 'connect Bearer eyJhbGciOi.payload.sig');
  const all = lines.join('');
  assert.ok(!all.includes('S3cr3t'), all);
  assert.ok(!all.includes('opencti-token-0001'), all);
  assert.ok(!all.includes('eyJhbGciOi'), all);
  // err.message and err.stack both carried the secret; the url and the message one each.
  assert.equal((all.match(/\[REDACTED\]/g) ?? []).length, 4);
  const warn = JSON.parse(lines[1] ?? '{}') as { msg: string; url: string };
  assert.equal(warn.msg, `connect Bearer ${REDACTED}`);
  assert.equal(warn.url, `https://opencti/stream?token=${REDACTED}`);
});
