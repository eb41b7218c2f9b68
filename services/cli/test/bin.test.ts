// The bin as an operator runs it: `npx octi-defender` from the repository root (the shebang finds
// the Node.js 24 that npm puts first on PATH), --help, each command's --help, bad usage.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { runCli } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

test('npx octi-defender --help from the repository root lists every command', async () => {
  const { stdout } = await promisify(execFile)('npx', ['--no-install', 'octi-defender', '--help'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp' } });
  for (const name of ['check', 'status', 'dlq list', 'dlq redrive']) assert.match(stdout, new RegExp(`^  ${name} +\\S`, 'm'));
});

test('each command explains itself; unknown commands and options are usage errors (exit 2)', async () => {
  for (const args of [['check', '--help'], ['status', '--help'], ['dlq', 'list', '--help'], ['dlq', 'redrive', '--help']]) {
    const r = await runCli(args, {});
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^usage: octi-defender ${args.slice(0, -1).join(' ')}`));
  }
  const unknown = await runCli(['frobnicate'], {});
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  const option = await runCli(['dlq', 'list', '--colour'], {});
  assert.equal(option.code, 2);
  assert.match(option.stderr, /octi-defender dlq list: Unknown option '--colour'/);
  const time = await runCli(['dlq', 'list', '--since', 'yesterday'], {});
  assert.equal(time.code, 2);
  assert.match(time.stderr, /--since "yesterday": expected an ISO 8601 date/);
});

test('without KAFKA_BROKERS a command says which variable is missing (exit 2)', async () => {
  const r = await runCli(['status'], {});
  assert.equal(r.code, 2);
  assert.match(r.stderr, /status: KAFKA_BROKERS is required/);
});
