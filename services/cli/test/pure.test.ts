// The pure core of the command line: dead letters decoded as the services write them, Defender's
// answer, the filters, the redrive decision per letter, check rendering and exit codes, dispatch.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeCommand, type Command } from '@octi-defender/indicators';
import type { Command as CliCommand, CommandIO } from '../src/command.ts';
import { checkExitCode, renderCheck } from '../src/findings.ts';
import { findCommand, dispatch } from '../src/dispatch.ts';
import { buildView, countByReason, decodeDlqRecord, defenderAnswer, matches, type DeadLetterView } from '../src/dlq/letters.ts';
import { planRedrive } from '../src/dlq/redrive-plan.ts';
import { parseTime, UsageError } from '../src/args.ts';
import { scrubber } from '../src/io.ts';
import { tokenRoles } from '../src/check/defender.ts';

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

const writerLetter = (over: Record<string, unknown> = {}) =>
  json({ origin: 'defender-writer', reason: 'defender_rejected', detail: '400 InvalidRequestBody: Action not supported', key: 'IpAddress:45.155.205.9', at: '2026-12-01T10:00:00.000Z', ...over });

const COMMAND: Command = {
  schemaVersion: 1,
  op: 'upsert',
  key: 'IpAddress:45.155.205.9',
  source: { id: 'i1', standardId: 'indicator--1', entityType: 'Indicator', streamId: 's', eventId: '1764583200000-0', eventName: 'create' },
  facts: {
    type: 'IpAddress',
    value: '45.155.205.9',
    name: null,
    description: null,
    score: 80,
    confidence: null,
    labels: [],
    markings: [],
    tlp: null,
    validFrom: null,
    validUntil: null,
    revoked: false,
    detection: null,
    createdBy: null,
    created: null,
    updated: null,
  },
};

function letter(value: Buffer, partition = 0, offset = 5n): DeadLetterView {
  const r = decodeDlqRecord('k', partition, offset, value, {});
  assert.equal(r.kind, 'letter');
  return (r as { letter: DeadLetterView }).letter;
}

describe('dead letters', () => {
  test("Defender's status, code and message are read from both shapes the writer writes", () => {
    assert.deepEqual(defenderAnswer('400 InvalidRequestBody: Action not supported'), { status: 400, code: 'InvalidRequestBody', message: 'Action not supported' });
    assert.deepEqual(defenderAnswer('id 17: 404 NotFound: gone'), { status: 404, code: 'NotFound', message: 'gone' });
    assert.deepEqual(defenderAnswer("Invalid IP address '1.2.3'"), { message: "Invalid IP address '1.2.3'" });
  });

  test('a writer letter, a listener letter, a redrive marker and junk decode as such', () => {
    const w = letter(writerLetter());
    assert.equal(w.id, '0:5');
    assert.equal(w.service, 'defender-writer');
    assert.equal(w.key, 'IpAddress:45.155.205.9');
    assert.equal(w.defender?.code, 'InvalidRequestBody');
    const l = letter(
      json({ origin: 'stream-listener', reason: 'invalid_json', detail: 'x', streamId: 's', eventId: '1-0', eventName: 'create', raw: '{', truncated: false, at: '2026-12-01T11:00:00Z' }),
      1,
      2n,
    );
    assert.equal(l.service, 'stream-listener');
    assert.equal(l.key, 's:1-0');
    assert.equal(l.defender, undefined);
    const m = decodeDlqRecord('redrive:0:5', 2, 0n, json({ origin: 'octi-defender-cli', letterId: '0:5', at: '2026-12-02T00:00:00Z', commands: 1 }), { op: Buffer.from('redriven') });
    assert.equal(m.kind, 'marker');
    assert.equal(decodeDlqRecord('x', 0, 9n, Buffer.from('not json'), {}).kind, 'unreadable');
    const view = buildView([
      decodeDlqRecord('k', 0, 5n, writerLetter(), {}),
      m,
      decodeDlqRecord('k', 1, 2n, json({ origin: 'stream-listener', reason: 'invalid_json', at: '2026-12-01T09:00:00Z' }), {}),
    ]);
    assert.deepEqual(view.letters.map((x) => x.id), ['1:2', '0:5']);
    assert.equal(view.redriven.get('0:5')?.commands, 1);
    assert.deepEqual(countByReason(view.letters), { 'stream-listener/invalid_json': 1, 'defender-writer/defender_rejected': 1 });
  });

  test('filters select by service, reason, exact or prefix key, time and id', () => {
    const w = letter(writerLetter());
    assert.equal(matches(w, { service: 'defender-writer', reasons: ['defender_rejected'] }), true);
    assert.equal(matches(w, { service: 'stream-listener' }), false);
    assert.equal(matches(w, { reasons: ['invalid_command'] }), false);
    assert.equal(matches(w, { key: 'IpAddress:45.155.205.9' }), true);
    assert.equal(matches(w, { key: 'IpAddress:45.155.*' }), true);
    assert.equal(matches(w, { key: 'IpAddress:45.155' }), false);
    assert.equal(matches(w, { since: Date.parse('2026-12-01T10:00:01Z') }), false);
    assert.equal(matches(w, { until: Date.parse('2026-12-01T10:00:01Z') }), true);
    assert.equal(matches(w, { ids: ['0:5'] }), true);
    assert.equal(matches(w, { ids: ['0:6'] }), false);
  });
});

describe('redrive decisions', () => {
  const now = new Date('2026-12-06T00:00:00Z');
  test('a refused command is re-sent as the latest command of its key, marked with the letter id', () => {
    const step = planRedrive(letter(writerLetter()), 'cmds', new Map([[COMMAND.key, [COMMAND]]]), now);
    assert.equal(step.action, 'publish');
    const [r] = step.action === 'publish' ? step.records : [];
    assert.equal(r?.topic, 'cmds');
    assert.equal(r?.key, COMMAND.key);
    assert.deepEqual(r?.headers, { op: 'upsert', redrive: '0:5' });
    const decoded = decodeCommand(Buffer.from(r.value as string));
    assert.ok(decoded.ok);
    assert.deepEqual(decoded.value, { ...COMMAND, redrive: '0:5' });
  });

  test('skipped with the reason: the command past retention, a truncated record, an empty one', () => {
    assert.match((planRedrive(letter(writerLetter()), 'cmds', new Map(), now) as { why: string }).why, /no command for IpAddress:45\.155\.205\.9 left on cmds/);
    const truncated = letter(writerLetter({ reason: 'invalid_command', topic: 'cmds', partition: 1, offset: '4', raw: '{"op":"upsert"', truncated: true }));
    assert.match((planRedrive(truncated, 'cmds', new Map(), now) as { why: string }).why, /truncated/);
    const empty = letter(writerLetter({ reason: 'empty_value', topic: 'cmds', partition: 1, offset: '4' }));
    assert.match((planRedrive(empty, 'cmds', new Map(), now) as { why: string }).why, /no value/);
  });

  test('a record the writer could not decode is re-sent as it was', () => {
    const raw = JSON.stringify({ ...COMMAND, schemaVersion: 2 });
    const l = letter(writerLetter({ reason: 'unsupported_version', topic: 'cmds', partition: 1, offset: '4', raw, truncated: false }));
    const step = planRedrive(l, 'cmds', new Map(), now);
    assert.equal(step.action, 'publish');
    assert.equal(step.action === 'publish' && step.records[0]?.value, raw);
  });

  test('a listener letter is normalized again into commands; an unparseable event is skipped', () => {
    const stix = {
      id: 'indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f',
      type: 'indicator',
      spec_version: '2.1',
      pattern_type: 'stix',
      pattern: "[ipv4-addr:value = '45.155.205.9']",
      name: 'C2',
      created: '2026-01-01T00:00:00.000Z',
      modified: '2026-01-01T00:00:00.000Z',
      valid_from: '2026-01-01T00:00:00.000Z',
      extensions: { 'extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba': { id: 'b6d5f5c0-0000-4000-8000-000000000001', type: 'Indicator', score: 80, detection: true } },
    };
    const raw = JSON.stringify({ version: '4', type: 'create', data: stix });
    const l = letter(
      json({ origin: 'stream-listener', reason: 'normalize_error', detail: 'bug', streamId: 's', eventId: '1764583200000-0', eventName: 'create', raw, truncated: false, at: '2026-12-01T00:00:00Z' }),
    );
    const step = planRedrive(l, 'cmds', new Map(), now);
    assert.equal(step.action, 'publish', JSON.stringify(step));
    const records = step.action === 'publish' ? step.records : [];
    assert.deepEqual(records.map((r) => r.key), ['IpAddress:45.155.205.9']);
    assert.equal((JSON.parse(records[0]!.value as string) as { redrive: string }).redrive, l.id);
    const bad = letter(
      json({ origin: 'stream-listener', reason: 'invalid_json', detail: 'x', streamId: 's', eventId: '1-0', eventName: 'create', raw: '{', truncated: false, at: '2026-12-01T00:00:00Z' }),
    );
    assert.equal(planRedrive(bad, 'cmds', new Map(), now).action, 'skip');
  });
});

describe('check rendering', () => {
  test('one line per check, the fix on failures; exit 0 only when all pass', () => {
    assert.equal(renderCheck({ name: 'Kafka reachable', ok: true, detail: '3 brokers' }), '✓ Kafka reachable (3 brokers)');
    assert.equal(renderCheck({ name: 'token', ok: false, detail: '401', fix: 'set OPENCTI_TOKEN' }), '✗ token: 401 → fix: set OPENCTI_TOKEN');
    assert.equal(checkExitCode([{ name: 'a', ok: true }]), 0);
    assert.equal(checkExitCode([{ name: 'a', ok: true }, { name: 'b', ok: false }]), 1);
    assert.equal(checkExitCode([]), 1);
  });

  test('the roles claim of a JWT access token', () => {
    const jwt = (payload: unknown): string => `e30.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.sig`;
    assert.deepEqual(tokenRoles(jwt({ roles: ['Ti.ReadWrite.All'] })), ['Ti.ReadWrite.All']);
    assert.deepEqual(tokenRoles(jwt({ appid: 'x' })), []);
    assert.equal(tokenRoles('opaque'), undefined);
  });
});

describe('the command line', () => {
  const table: CliCommand[] = [
    { name: 'dlq list', summary: 'l', run: () => Promise.resolve(0) },
    { name: 'dlq redrive', summary: 'r', run: (args) => Promise.resolve(args.length) },
    { name: 'check', summary: 'c', run: () => Promise.reject(new UsageError('bad option')) },
  ];
  const io = (): CommandIO & { lines: string[] } => {
    const lines: string[] = [];
    return { env: {}, out: (l) => lines.push(l), err: (l) => lines.push(`err: ${l}`), lines };
  };

  test('dispatches on one or two words; unknown commands and usage errors exit 2', async () => {
    assert.equal(findCommand(table, ['dlq', 'redrive', '--all'])?.command.name, 'dlq redrive');
    assert.deepEqual(findCommand(table, ['dlq', 'redrive', '--all'])?.rest, ['--all']);
    assert.equal(findCommand(table, ['dlq']), undefined);
    assert.equal(await dispatch(table, ['dlq', 'redrive', 'a', 'b'], io()), 2);
    const unknown = io();
    assert.equal(await dispatch(table, ['nope'], unknown), 2);
    assert.match(unknown.lines[0]!, /unknown command "nope"/);
    const usage = io();
    assert.equal(await dispatch(table, ['check'], usage), 2);
    assert.match(usage.lines[0]!, /octi-defender check: bad option/);
    const help = io();
    assert.equal(await dispatch(table, ['--help'], help), 0);
    assert.ok(help.lines.some((l) => l.includes('dlq redrive') && l.includes(' r')));
  });

  test('times are ISO dates or durations back from now; anything else is a usage error', () => {
    const now = Date.parse('2026-12-06T12:00:00Z');
    assert.equal(parseTime('since', '2h', now), now - 7_200_000);
    assert.equal(parseTime('since', '2026-12-01', now), Date.parse('2026-12-01'));
    assert.throws(() => parseTime('since', 'yesterday', now), UsageError);
  });

  test('secret values configured in the environment are scrubbed from every line', () => {
    const scrub = scrubber({ OPENCTI_TOKEN: 'tok-123456', MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: 'sec-abcdef', KAFKA_SASL_PASSWORD: 'pw-987654' });
    assert.equal(scrub('a tok-123456 b sec-abcdef c pw-987654'), 'a [REDACTED] b [REDACTED] c [REDACTED]');
  });
});
