// The listener against the OpenCTI emulator (real HTTP/SSE) and a real Kafka broker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startOpenCtiEmulator, OCTI_EXT, type OpenCtiEmulator } from '@octi-defender/emulators';
import type { Command } from '@octi-defender/indicators';
import { decodeCheckpoint } from '../src/checkpoint.ts';
import { compareEventIds } from '@octi-defender/indicators';
import type { DeadLetter } from '../src/publisher.ts';
import { listenerConfig, startListener, tail, testKafka, TOKEN, uniqueTopics, until } from './helpers.ts';

const STREAM = 'c1a2b3c4-0000-4000-8000-000000000001';

async function emulator(heartbeatMs = 200): Promise<OpenCtiEmulator> {
  return startOpenCtiEmulator({ port: 0, host: '127.0.0.1', token: TOKEN, streams: [{ id: STREAM }], heartbeatMs, seed: 7 });
}

function opsBySource(commands: Command[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const c of commands) {
    const list = m.get(c.source.standardId) ?? [];
    list.push(c.op === 'upsert' ? `upsert:${c.facts.score}` : 'retract');
    m.set(c.source.standardId, list);
  }
  return m;
}

function metric(h: { metrics: { reconnects: { get(): Promise<{ values: Array<{ labels: Record<string, unknown>; value: number }> }> } } }, cause: string): Promise<number> {
  return h.metrics.reconnects.get().then((m) => m.values.filter((v) => v.labels.cause === cause).reduce((a, v) => a + v.value, 0));
}

test('publishes every command in order per key, checkpoints with them, and resumes after a restart', async (t) => {
  const octi = await emulator();
  t.after(() => octi.close());
  const topics = uniqueTopics();
  // From the beginning of the history (a first start would otherwise recover the current state only).
  const cfg = listenerConfig(octi.url, [STREAM], topics, { CONNECTOR_LIVE_STREAM_START_FROM: '0-0' });

  const kinds = ['ipv4', 'ipv6', 'domain', 'url', 'sha256', 'md5', 'hostname', 'sha1'] as const;
  const created = kinds.map((k) => octi.generator.indicator(k));
  for (const [i, ind] of created.entries()) {
    ind.extensions = { ...(ind.extensions as object), [OCTI_EXT]: { ...((ind.extensions as Record<string, object>)[OCTI_EXT]), score: 40 + i } };
    octi.append({ op: 'create', data: ind });
  }
  // Rescore half of them, delete two: per key the commands must keep this order.
  for (const ind of created.slice(0, 4)) octi.append({ op: 'update', id: ind.id, changes: { extensions: { [OCTI_EXT]: { score: 90 } } } });
  for (const ind of created.slice(6)) octi.append({ op: 'delete', id: ind.id });

  const h1 = startListener(cfg);
  t.after(() => h1.close());
  await h1.listener.start();
  await until('active', () => h1.listener.role === 'active');
  const observer = testKafka();
  t.after(() => observer.close());
  const reader = await tail(observer, topics.commands);
  const expectedCount = 8 + 4 + 2;
  await until(`${expectedCount} commands`, () => reader.records.length >= expectedCount);

  const bySource = opsBySource(reader.commands());
  assert.equal(bySource.size, 8);
  for (const [i, ind] of created.entries()) {
    const expected = [`upsert:${40 + i}`, ...(i < 4 ? ['upsert:90'] : []), ...(i >= 6 ? ['retract'] : [])];
    assert.deepEqual(bySource.get(ind.id), expected, `${kinds[i]} ${ind.id}`);
  }
  // One key, one partition: the writer sees each indicator's history in order.
  for (const key of new Set(reader.records.map((r) => r.key))) {
    const parts = new Set(reader.records.filter((r) => r.key === key).map((r) => r.partition));
    assert.equal(parts.size, 1, String(key));
  }
  assert.ok(reader.commands().every((c) => c.source.streamId === STREAM && /^\d+-\d+$/.test(c.source.eventId)));

  // The checkpoint reaches the stream's last id (heartbeats prove it complete), then stop.
  const lastId = octi.lastEventId();
  await until('checkpoint at the last event', async () => {
    const stored = await h1.kafka.readCompacted(topics.checkpoints);
    const at = decodeCheckpoint(STREAM, stored.get(STREAM)?.value ?? null)?.lastEventId;
    return at !== undefined && lastId !== undefined && compareEventIds(at, lastId) >= 0;
  });
  await h1.close();

  // While it is down: one more create and one delete.
  const late = octi.generator.indicator('domain');
  octi.append({ op: 'create', data: late });
  octi.append({ op: 'delete', id: created[0]!.id });

  const h2 = startListener(cfg);
  t.after(() => h2.close());
  await h2.listener.start();
  await until('two more commands', () => reader.records.length >= expectedCount + 2);
  await new Promise((r) => setTimeout(r, 500));
  const after = reader.commands().slice(expectedCount);
  assert.equal(after.length, 2, 'resumed from the checkpoint: nothing before it was published again');
  assert.deepEqual(
    after.map((c) => `${c.op}:${c.source.standardId}`).sort(),
    [`retract:${created[0]!.id}`, `upsert:${late.id}`].sort(),
  );
});

test('a dropped connection and a silent stream both reconnect without losing events', async (t) => {
  const octi = await emulator();
  t.after(() => octi.close());
  const topics = uniqueTopics();
  const h = startListener(listenerConfig(octi.url, [STREAM], topics));
  t.after(() => h.close());
  await h.listener.start();
  await until('connected', () => h.listener.ready().ok);
  const reader = await tail(h.kafka, topics.commands);
  t.after(() => reader.close());

  for (let i = 0; i < 5; i++) octi.append({ op: 'create', data: octi.generator.indicator('ipv4') });
  await until('first five', () => reader.records.length >= 5);
  assert.ok(octi.dropConnections(STREAM) >= 1);
  for (let i = 0; i < 5; i++) octi.append({ op: 'create', data: octi.generator.indicator('domain') });
  await until('all ten', () => reader.records.length >= 10);
  assert.ok((await metric(h, 'network')) >= 1);
  assert.equal(new Set(reader.records.map((r) => r.key)).size, 10);

  // A stream that goes silent (no heartbeat) is reconnected by the watchdog.
  const quiet = await emulator(600_000);
  t.after(() => quiet.close());
  const qTopics = uniqueTopics();
  const q = startListener(listenerConfig(quiet.url, [STREAM], qTopics, { LISTENER_HEARTBEAT_TIMEOUT_MS: '1000' }));
  t.after(() => q.close());
  await q.listener.start();
  await until('watchdog reconnect', async () => (await metric(q, 'watchdog')) >= 1);
  quiet.append({ op: 'create', data: quiet.generator.indicator('url') });
  const qReader = await tail(q.kafka, qTopics.commands);
  t.after(() => qReader.close());
  await until('event after the watchdog reconnect', () => qReader.records.length >= 1);
});

test('malformed events go to the dead-letter topic with the reason while the stream goes on', async (t) => {
  const octi = await emulator();
  t.after(() => octi.close());
  const topics = uniqueTopics();
  // Raw history from the beginning: recovery would replay entities, not the malformed log entries.
  // Events up to LISTENER_MAX_EVENT_BYTES are normalized (a multi-MiB description is cut in the
  // command); only a larger one is skipped: the bound is lowered so that a 2 MiB event is over it.
  const h = startListener(listenerConfig(octi.url, [STREAM], topics, { CONNECTOR_LIVE_STREAM_START_FROM: '0-0', LISTENER_MAX_EVENT_BYTES: String(1024 * 1024) }));
  t.after(() => h.close());

  octi.append({ op: 'create', data: octi.generator.indicator('ipv4') });
  const ids = {
    'bad-json': octi.injectMalformed('bad-json'),
    'unknown-event': octi.injectMalformed('unknown-event'),
    'missing-fields': octi.injectMalformed('missing-fields'),
    oversized: octi.injectMalformed('oversized', { size: 2 * 1024 * 1024 }),
  };
  octi.append({ op: 'create', data: octi.generator.indicator('domain') });
  // Not representable in Defender: counted and logged, not published, not dead-lettered.
  octi.append({ op: 'create', data: octi.generator.indicator('cidr') });

  await h.listener.start();
  const dlq = await tail(h.kafka, topics.dlq);
  const cmds = await tail(h.kafka, topics.commands);
  t.after(() => Promise.all([dlq.close(), cmds.close()]));
  await until('four dead letters', () => dlq.records.length >= 4);
  await until('two commands', () => cmds.records.length >= 2);
  const letters = dlq.records.map((r) => JSON.parse(r.value) as DeadLetter);
  const reasonOf = (id: string): string | undefined => letters.find((l) => l.eventId === id)?.reason;
  assert.equal(reasonOf(ids['bad-json']), 'invalid_json');
  assert.equal(reasonOf(ids['unknown-event']), 'unknown_event');
  assert.equal(reasonOf(ids['missing-fields']), 'malformed_event');
  assert.equal(reasonOf(ids.oversized), 'oversized_event');
  const bad = letters.find((l) => l.reason === 'invalid_json');
  assert.ok(bad && bad.raw.length > 10 && bad.streamId === STREAM && bad.eventName === 'create');
  assert.ok(letters.find((l) => l.reason === 'oversized_event')?.truncated);
  const rejects = await h.metrics.rejects.get();
  assert.ok(rejects.values.some((v) => v.labels.reason === 'cidr' && v.value >= 1));
  assert.ok(h.lines.some((l) => l.includes('value not sent to Defender') && l.includes('"reason":"cidr"')));
});

test('configuration errors (401, 410) are reported clearly and retried slowly, without leaking the token', async (t) => {
  const octi = await emulator();
  t.after(() => octi.close());
  const topics = uniqueTopics();
  const h = startListener({ ...listenerConfig(octi.url, [STREAM], topics), openctiToken: 'wrong-token-value' });
  t.after(() => h.close());
  await h.listener.start();
  await until('401 reported', async () => (await h.metrics.configErrors.get()).values.some((v) => v.labels.status === '401'));
  assert.equal(h.listener.ready().ok, false);
  assert.ok(h.lines.some((l) => l.includes('check OPENCTI_TOKEN')));
  assert.ok(!h.lines.some((l) => l.includes('wrong-token-value')));
  assert.ok(!h.lines.some((l) => l.includes(TOKEN)));

  const stopped = startListener(listenerConfig(octi.url, [STREAM], uniqueTopics()));
  t.after(() => stopped.close());
  octi.stop(STREAM);
  await stopped.listener.start();
  await until('410 reported', async () => (await stopped.metrics.configErrors.get()).values.some((v) => v.labels.status === '410'));
  assert.ok(stopped.lines.some((l) => l.includes('is stopped (410)')));
  // Slow retries: with a 1 s retry delay, a second of waiting allows at most two attempts.
  octi.start(STREAM);
  await until('connected once the stream is started again', () => stopped.listener.ready().ok);
});

test('a standby takes over when the active listener leaves, and a fenced listener stops publishing', async (t) => {
  const octi = await emulator();
  t.after(() => octi.close());
  const topics = uniqueTopics();
  const cfg = listenerConfig(octi.url, [STREAM], topics);
  const a = startListener(cfg);
  const b = startListener(cfg);
  t.after(() => Promise.all([a.close(), b.close()]));
  await a.listener.start();
  await until('a active', () => a.listener.role === 'active');
  await b.listener.start();
  // The group may move the lease to the newcomer (round-robin assignment): wait for one active
  // replica and one ready standby, whichever is which.
  const [active, standby] = await until('one active, one ready standby', () => {
    if (a.listener.role === 'active' && b.listener.role === 'standby' && b.listener.ready().ok) return [a, b] as const;
    if (b.listener.role === 'active' && a.listener.role === 'standby' && a.listener.ready().ok) return [b, a] as const;
    return undefined;
  });
  assert.equal(standby.listener.ready().detail, 'standby', 'a connected standby is ready (it must not block rollouts)');

  const observer = testKafka();
  t.after(() => observer.close());
  const reader = await tail(observer, topics.commands);
  octi.append({ op: 'create', data: octi.generator.indicator('ipv4') });
  await until('first command', () => reader.records.length >= 1);

  await active.close();
  await until('standby active', () => standby.listener.role === 'active');
  octi.append({ op: 'create', data: octi.generator.indicator('domain') });
  await until('command published by the new active replica', () => reader.records.length >= 2);

  // Another producer with the group's transactional id (what a new active member does) fences it.
  const intruder = testKafka();
  t.after(() => intruder.close());
  const fencer = await intruder.transactionalProducer(cfg.groupId);
  await fencer.close();
  octi.append({ op: 'create', data: octi.generator.indicator('url') });
  await until('the active replica stepped down after being fenced', () => standby.lines.some((l) => l.includes('fenced by a newer listener')));
});

test('follows several streams at once, with a checkpoint per stream', async (t) => {
  const other = 'c1a2b3c4-0000-4000-8000-000000000002';
  // Two filtered views of one platform: IPv4 indicators on one stream, domains on the other.
  const octi = await startOpenCtiEmulator({
    port: 0,
    host: '127.0.0.1',
    token: TOKEN,
    heartbeatMs: 200,
    seed: 11,
    streams: [
      { id: STREAM, filters: { mode: 'and', filters: [{ key: 'x_opencti_main_observable_type', values: ['IPv4-Addr'], operator: 'eq', mode: 'or' }], filterGroups: [] } },
      { id: other, filters: { mode: 'and', filters: [{ key: 'x_opencti_main_observable_type', values: ['Domain-Name'], operator: 'eq', mode: 'or' }], filterGroups: [] } },
    ],
  });
  t.after(() => octi.close());
  const topics = uniqueTopics();
  const h = startListener(listenerConfig(octi.url, [STREAM, other], topics, { CONNECTOR_LIVE_STREAM_START_FROM: '0-0' }));
  t.after(() => h.close());
  const observer = testKafka();
  t.after(() => observer.close());

  octi.append({ op: 'create', data: octi.generator.indicator('ipv4') }, { op: 'create', data: octi.generator.indicator('domain') });
  await h.listener.start();
  const reader = await tail(observer, topics.commands);
  t.after(() => reader.close());
  await until('one command per stream', () => new Set(reader.commands().map((c) => c.source.streamId)).size === 2 && reader.records.length >= 2);
  const byStream = new Map(reader.commands().map((c) => [c.source.streamId, c.key.split(':')[0]]));
  assert.deepEqual(Object.fromEntries(byStream), { [STREAM]: 'IpAddress', [other]: 'DomainName' });
  await until('a checkpoint per stream', async () => {
    const stored = await h.kafka.readCompacted(topics.checkpoints);
    return decodeCheckpoint(STREAM, stored.get(STREAM)?.value ?? null) !== undefined && decodeCheckpoint(other, stored.get(other)?.value ?? null) !== undefined;
  });
});
