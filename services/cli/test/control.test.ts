// reconcile, resync and replay driven as an operator runs them: the bin as a child process, its
// output and exit code, against a real Kafka broker, the listener (with its control handler) on the
// OpenCTI emulator and defender-writer (with its control handler) on the Defender emulator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startOpenCtiEmulator } from '@octi-defender/emulators';
import { createKafka } from '@octi-defender/kafka';
import { requireBrokers } from '@octi-defender/kafka/testing';
import { WriterControl } from '@octi-defender/defender-writer/control';
import { ListenerControl } from '@octi-defender/stream-listener';
import { emulator as defenderEmulator, ip, ours, publish, startWriter, up, waitFor, writerEnv } from '../../defender-writer/test/harness.ts';
import { decodeCheckpoint } from '../../stream-listener/src/checkpoint.ts';
import { compareEventIds } from '@octi-defender/indicators';
import { listenerConfig, quietLogger, startListener, tail, TOKEN, uniqueTopics, until } from '../../stream-listener/test/helpers.ts';
import { runCli } from './helpers.ts';

const STREAM = 'c1a2b3c4-0000-4000-8000-0000000c11c1';

function upsertsPerKey(cmds: ReadonlyArray<{ key: string; op: string }>): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of cmds) if (c.op === 'upsert') out.set(c.key, (out.get(c.key) ?? 0) + 1);
  return out;
}

test('replay and resync through the control topic: the listener acts, reports done, and refuses what it cannot do', async (t) => {
  const octi = await startOpenCtiEmulator({ port: 0, host: '127.0.0.1', token: TOKEN, streams: [{ id: STREAM }], heartbeatMs: 200, seed: 31 });
  t.after(() => octi.close());
  const topics = uniqueTopics();
  const control = `${topics.commands}.control`;
  const cfg = listenerConfig(octi.url, [STREAM], topics, { KAFKA_TOPIC_CONTROL: control, CONNECTOR_LIVE_STREAM_START_FROM: '0-0' });
  const h = startListener(cfg);
  t.after(() => h.close());
  const { logger } = quietLogger();
  const listenerControl = new ListenerControl(cfg, { kafka: h.kafka, listener: h.listener, logger, metrics: h.metrics });
  t.after(() => listenerControl.close());
  await h.listener.start();
  await listenerControl.start();
  const commands = await tail(h.kafka, topics.commands);
  t.after(() => commands.close());

  const created = octi.append(...[0, 1, 2].map(() => ({ op: 'create' as const, data: octi.generator.indicator('ipv4') })));
  await until('the checkpoint past the creates', async () => {
    const at = decodeCheckpoint(STREAM, (await h.kafka.readCompacted(topics.checkpoints)).get(STREAM)?.value ?? null)?.lastEventId;
    return at !== undefined && compareEventIds(at, created[2]!.id) >= 0;
  });
  const before = upsertsPerKey(commands.commands());
  assert.equal(before.size, 3);
  const env = { KAFKA_BROKERS: requireBrokers().join(','), KAFKA_TOPIC_COMMANDS: topics.commands, KAFKA_TOPIC_CONTROL: control };

  // Replay from (after) the first event: the second and third are read again, the first not.
  const replay = await runCli(['replay', '--stream', STREAM, '--from', created[0]!.id, '--timeout', '60s'], env);
  assert.equal(replay.code, 0, replay.stderr + replay.stdout);
  assert.match(replay.stdout, /\[stream-listener [^\]]+\] accepted: replay of stream/);
  assert.match(replay.stdout, /\] done: stream .* replayed from/);
  await until('the replayed commands', () => {
    const now = upsertsPerKey(commands.commands());
    return [...before].filter(([k, n]) => (now.get(k) ?? 0) > n).length === 2;
  });
  const afterReplay = upsertsPerKey(commands.commands());
  assert.deepEqual([...afterReplay.values()].sort(), [1, 2, 2], 'nothing before the position read again');

  // A resync: begin and end markers on every partition, reported done.
  const resync = await runCli(['resync', '--stream', STREAM, '--timeout', '60s'], env);
  assert.equal(resync.code, 0, resync.stderr + resync.stdout);
  assert.match(resync.stdout, /\] done: stream .* resynced/);
  const markers = commands.records.filter((r) => r.key?.startsWith(`resync:${STREAM}:`));
  assert.equal(markers.filter((m) => m.value.includes('"phase":"begin"')).length, 12);
  assert.equal(markers.filter((m) => m.value.includes('"phase":"end"')).length, 12);

  // Refusals: a replay forward (it would skip events), a stream no listener follows, bad usage.
  const forward = await runCli(['replay', '--stream', STREAM, '--from', `${Date.now() + 86_400_000}-0`, '--timeout', '30s'], env);
  assert.equal(forward.code, 1, forward.stdout + forward.stderr);
  assert.match(forward.stdout, /refused: .* a replay goes back, it never skips events/);
  const nobody = await runCli(['resync', '--stream', 'not-followed', '--answer-timeout', '3s'], env);
  assert.equal(nobody.code, 3);
  assert.match(nobody.stderr, /no answer from a stream-listener following stream not-followed within 3 s: it is not running/);
  const usage = await runCli(['replay', '--stream', STREAM, '--from', 'yesterday'], env);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /expected an OpenCTI event id/);
  const unreachable = await runCli(['resync', '--stream', STREAM], {
    ...env,
    KAFKA_BROKERS: '127.0.0.1:1',
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: 'operator',
    KAFKA_SASL_PASSWORD: 'kafka-password-7f3e',
  });
  assert.equal(unreachable.code, 3);
  assert.match(unreachable.stderr, /Kafka is unreachable at 127\.0\.0\.1:1 .*check KAFKA_BROKERS/);
  assert.ok(!(unreachable.stdout + unreachable.stderr).includes('kafka-password-7f3e'), 'no secret printed');
  const noTopic = await runCli(['resync', '--stream', STREAM], { ...env, KAFKA_TOPIC_CONTROL: `missing-${randomUUID()}` });
  assert.equal(noTopic.code, 3);
  assert.match(noTopic.stderr, /control topic .* does not exist/);
});

test('reconcile through the control topic: the tenant’s writers repair Defender and report every partition done', async (t) => {
  const mde = await defenderEmulator();
  t.after(() => mde.close());
  const s = randomUUID().slice(0, 8);
  const names = { commands: `c-${s}.indicators`, dlq: `c-${s}.dlq`, state: `c-${s}.state`, group: `writer-${s}` };
  const control = `c-${s}.control`;
  const running = await startWriter(writerEnv(mde, names, { KAFKA_TOPIC_CONTROL: control }));
  t.after(() => running.stop());
  const { logger } = quietLogger();
  const kafka = createKafka({ brokers: requireBrokers(), clientId: `control-${s}` });
  t.after(() => kafka.close());
  const writerControl = new WriterControl(running.cfg, { kafka, writer: running.writer, logger, instance: `w-${s}` });
  t.after(() => writerControl.close());
  await writerControl.start();

  await publish(names, [0, 1, 2, 3, 4].map((i) => up(`src-${i}`, ip(i))));
  await waitFor('five indicators in Defender', () => ours(mde).length === 5, 60_000);
  const before = ours(mde);
  // Drift: Defender lost every indicator.
  mde.reset();
  assert.equal(ours(mde).length, 0);

  const env = { KAFKA_BROKERS: requireBrokers().join(','), KAFKA_TOPIC_COMMANDS: names.commands, KAFKA_TOPIC_CONTROL: control };
  const run = await runCli(['reconcile', '--tenant', 'test', '--timeout', '60s'], env);
  assert.equal(run.code, 0, run.stderr + run.stdout);
  assert.match(run.stdout, /\[defender-writer test [^\]]+\] accepted: reconciling partitions/);
  assert.match(run.stdout, /\] done: reconciled partitions .*: \d+ listed in Defender, 5 missing re-imported/);
  assert.match(run.stdout, /reconciled: tenant\(s\) test, every partition/);
  assert.deepEqual(ours(mde), before, 'the lost indicators are back');

  // Every tenant: the same writer answers.
  const all = await runCli(['reconcile', '--timeout', '60s'], env);
  assert.equal(all.code, 0, all.stderr + all.stdout);
  assert.match(all.stdout, /0 missing re-imported, 0 orphaned deleted/);

  const nobody = await runCli(['reconcile', '--tenant', 'no-such-tenant', '--answer-timeout', '3s'], env);
  assert.equal(nobody.code, 3);
  assert.match(nobody.stderr, /no answer from the defender-writers of tenant no-such-tenant/);
});
