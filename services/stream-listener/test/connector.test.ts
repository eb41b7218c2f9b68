// The listener as a registered OpenCTI stream connector, against the OpenCTI emulator over real
// HTTP (GraphQL and SSE), a real Kafka broker, and defender-writer with the Defender emulator:
// it appears in the connector list with an advancing state; a reset from OpenCTI replays the stream
// from the configured start with nothing lost or duplicated in Defender; OpenCTI's API being down
// does not stop the stream.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startOpenCtiEmulator } from '@octi-defender/emulators';
import { ours } from '../../defender-writer/test/harness.ts';
import { startPipeline } from './pipeline.ts';
import { ConnectorPresence } from '../src/connector.ts';
import type { ListenerMetrics } from '../src/metrics.ts';
import { compareEventIds } from '@octi-defender/indicators';
import { eligible, listenerConfig, quietLogger, startListener, tail, TOKEN, uniqueTopics, until } from './helpers.ts';

const STREAM = 'c1a2b3c4-0000-4000-8000-00000000c0c1';

/** A listener with its connector presence (pinging every second) and a reader of its commands. */
async function startConnector(t: TestContext, openctiUrl: string, topics: ReturnType<typeof uniqueTopics>, extra: Record<string, string> = {}) {
  const connectorId = randomUUID();
  const cfg = listenerConfig(openctiUrl, [STREAM], topics, { CONNECTOR_ID: connectorId, LISTENER_CONNECTOR_PING_MS: '1000', ...extra });
  const h = startListener(cfg);
  t.after(() => h.close());
  const { logger, lines } = quietLogger();
  const presence = new ConnectorPresence({ ...cfg, connectorId }, { listener: h.listener, logger, metrics: h.metrics });
  t.after(() => presence.close());
  await h.listener.start();
  presence.start();
  const commands = await tail(h.kafka, topics.commands);
  t.after(() => commands.close());
  return { connectorId, presence, lines, commands, metrics: h.metrics };
}

function startFromOf(connector: Record<string, unknown> | undefined): string | undefined {
  const state = connector?.connector_state;
  if (typeof state !== 'string' || state === '') return undefined;
  return (JSON.parse(state) as { start_from?: string }).start_from;
}

test('registered connector: listed with an advancing state; a reset from OpenCTI replays from the start, nothing lost or duplicated in Defender', async (t) => {
  const { octi, mde, topics } = await startPipeline(t, STREAM, 21);

  const first = [eligible(octi.generator.indicator('ipv4')), eligible(octi.generator.indicator('domain')), eligible(octi.generator.indicator('url'))];
  octi.append(...first.map((data) => ({ op: 'create' as const, data })));

  const { connectorId, presence, lines, commands, metrics } = await startConnector(t, octi.url, topics, { CONNECTOR_NAME: 'octi-defender test', CONNECTOR_SCOPE: 'defender,mde' });

  await until('three indicators in Defender', () => ours(mde).length === 3, 60_000);
  // Registered as pycti registers a stream connector, and alive.
  const listed = await until('the connector listed with a state', () => {
    const c = octi.connectors().find((x) => x.id === connectorId);
    return startFromOf(c) !== undefined && c;
  });
  assert.equal(listed.name, 'octi-defender test');
  assert.equal(listed.connector_type, 'STREAM');
  assert.deepEqual(listed.connector_scope, ['defender', 'mde']);
  assert.equal(listed.active, true);
  // The state advances with the checkpoint (heartbeats and events).
  const s1 = startFromOf(listed)!;
  const [fourth] = octi.append({ op: 'create', data: eligible(octi.generator.indicator('ipv4')) });
  await until('the state past the new event', () => {
    const at = startFromOf(octi.connectors().find((x) => x.id === connectorId));
    return at !== undefined && compareEventIds(at, s1) > 0 && compareEventIds(at, fourth!.id) >= 0;
  });
  await until('four indicators in Defender', () => ours(mde).length === 4, 60_000);
  const before = ours(mde);
  const perKeyBefore = countPerKey(commands.commands());
  assert.equal(perKeyBefore.size, 4);

  // A reset from OpenCTI's UI: the listener replays from the configured start (0-0 with recover).
  octi.resetConnectorState(connectorId);
  await until('the replay re-published every current indicator', () => {
    const now = countPerKey(commands.commands());
    return [...perKeyBefore].every(([k, n]) => (now.get(k) ?? 0) > n);
  }, 60_000);
  assert.equal(presence.resets, 1);
  assert.equal(await pingCount(metrics, 'reset'), 1);
  assert.ok(lines.some((l) => l.includes('Connector state has been remotely reset')));
  // Live events still flow after the replay, and the state advances again from the replay.
  octi.append({ op: 'create', data: eligible(octi.generator.indicator('domain')) });
  await until('five indicators in Defender', () => ours(mde).length === 5, 60_000);
  const after = ours(mde);
  assert.ok(before.every((v) => after.includes(v)), 'nothing lost');
  assert.equal(new Set(after).size, after.length, 'nothing duplicated');
  assert.equal(mde.indicators().length, 5, 'exactly one Defender indicator per value');
  await until('the state stored again after the reset', () => startFromOf(octi.connectors().find((x) => x.id === connectorId)) !== undefined);
  // One reset, one replay: a later ping does not see it again.
  const resetsSeen = presence.resets;
  const pings = presence.pings;
  await until('two more pings', () => presence.pings >= pings + 2);
  assert.equal(presence.resets, resetsSeen);
  assert.ok(!lines.some((l) => l.includes(TOKEN)), 'the token never logged');
});

test('OpenCTI API down: the stream goes on; the connector registers once the API answers', async (t) => {
  const octi = await startOpenCtiEmulator({ port: 0, host: '127.0.0.1', token: TOKEN, streams: [{ id: STREAM }], heartbeatMs: 200, seed: 22 });
  t.after(() => octi.close());
  octi.setGraphqlDown(true);
  const { connectorId, presence, lines, commands, metrics } = await startConnector(t, octi.url, uniqueTopics());

  octi.append({ op: 'create', data: octi.generator.indicator('ipv4') });
  await until('the command published while OpenCTI’s API is down', () => commands.records.length >= 1, 60_000);
  await until('the failure logged', () => lines.some((l) => l.includes('registration or ping failed')));
  assert.equal(octi.connectors().length, 0);
  assert.equal(lines.filter((l) => l.includes('registration or ping failed')).length, 1, 'logged once per outage, not per attempt');

  octi.setGraphqlDown(false);
  await until('registered once the API answers', () => startFromOf(octi.connectors().find((x) => x.id === connectorId)) !== undefined);
  // The platform stores the state before its answer reaches the listener, which then logs.
  await until('the recovery logged', () => lines.some((l) => l.includes('reachable again')));
  assert.equal(presence.resets, 0, 'a new connector (null state) is no reset');
  assert.ok((await pingCount(metrics, 'failed')) >= 1);
  assert.ok((await pingCount(metrics, 'ok')) >= 1);
});

async function pingCount(metrics: ListenerMetrics, outcome: string): Promise<number> {
  return (await metrics.connectorPings.get()).values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}

function countPerKey(cmds: ReadonlyArray<{ key: string; op: string }>): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of cmds) if (c.op === 'upsert') out.set(c.key, (out.get(c.key) ?? 0) + 1);
  return out;
}
