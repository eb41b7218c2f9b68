// Fixtures of the writer's integration tests: a real Kafka broker (KAFKA_BROKERS), the Defender
// emulator over real HTTP (msal pointed at its token endpoint), unique topics per test.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { startDefenderEmulator, type DefenderEmulator, type DefenderEmulatorOptions } from '@octi-defender/emulators';
import { encodeCommand, type Command } from '@octi-defender/indicators';
import { createKafka } from '@octi-defender/kafka';
import { requireBrokers } from '@octi-defender/kafka/testing';
import { createLogger, createRegistry, type Registry } from '@octi-defender/platform';
import { loadWriterConfig, type WriterConfig } from '../src/config.ts';
import { TokenProvider } from '../src/defender/token.ts';
import { createDefenderClient } from '../src/defender/create-client.ts';
import { createWriterMetrics } from '../src/metrics.ts';
import { Writer } from '../src/writer.ts';
import type { DefenderClient } from '../src/defender/client.ts';
import type { Clock } from '../src/defender/quota.ts';
import { facts } from './helpers.ts';

const TENANT = '11111111-2222-3333-4444-555555555555';
export const CLIENT_ID = '3f2b8c1e-6a4d-4e7b-9c2a-1d5e8f7a6b4c';
export const SECRET = 'emulator-secret-value';

export async function emulator(over: Partial<DefenderEmulatorOptions> = {}): Promise<DefenderEmulator> {
  return startDefenderEmulator({ tenantId: TENANT, clients: [{ clientId: CLIENT_ID, clientSecret: SECRET }], port: 0, rateLimits: false, ...over });
}

export interface Topics {
  readonly commands: string;
  readonly dlq: string;
  readonly state: string;
  readonly group: string;
}

export function uniqueTopics(): Topics {
  const s = randomUUID().slice(0, 8);
  return { commands: `w-${s}.indicators`, dlq: `w-${s}.dlq`, state: `w-${s}.state`, group: `writer-${s}` };
}

export function writerEnv(emu: DefenderEmulator, t: Topics, extra: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: requireBrokers().join(','),
    WRITER_TENANT_NAME: 'test',
    KAFKA_TOPIC_COMMANDS: t.commands,
    KAFKA_TOPIC_DLQ: t.dlq,
    KAFKA_TOPIC_STATE: t.state,
    KAFKA_CONSUMER_GROUP: t.group,
    MICROSOFT_DEFENDER_INTEL_TENANT_ID: TENANT,
    MICROSOFT_DEFENDER_INTEL_CLIENT_ID: CLIENT_ID,
    MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: SECRET,
    MICROSOFT_DEFENDER_INTEL_TOKEN_ENDPOINT: emu.tokenUrl,
    MICROSOFT_DEFENDER_INTEL_BASE_URL: emu.url,
    WRITER_SESSION_TIMEOUT_MS: '6000',
    WRITER_LAG_INTERVAL_MS: '1000',
    WRITER_RETRY_PAUSE_MS: '100',
    WRITER_RECONCILE_INTERVAL_MS: '0',
    DEFENDER_HTTP_MAX_RETRIES: '1',
    DEFENDER_RETRY_BASE_MS: '10',
    DEFENDER_RETRY_MAX_MS: '200',
    DEFENDER_BREAKER_RESET_MS: '500',
    DEFENDER_BREAKER_VOLUME_THRESHOLD: '2',
    DEFENDER_HTTP_TIMEOUT_MS: '5000',
    SHUTDOWN_TIMEOUT_MS: '10000',
    ...extra,
  };
}

export interface RunningWriter {
  readonly writer: Writer;
  readonly client: DefenderClient;
  readonly cfg: WriterConfig;
  readonly registry: Registry;
  readonly lines: string[];
  stop(): Promise<void>;
}

/** `clock` replaces the client's (quota waits and retry sleeps), e.g. one running as fast as the emulator's. */
export async function startWriter(env: Record<string, string>, opts: { clock?: Clock } = {}): Promise<RunningWriter> {
  const cfg = loadWriterConfig(env);
  const lines: string[] = [];
  const logger = createLogger({
    name: 'writer-test',
    level: 'info',
    secrets: [SECRET],
    destination: new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) }),
  });
  const registry = createRegistry({ prefix: 'octi_writer' });
  const kafka = createKafka({ brokers: cfg.kafkaBrokers, clientId: 'writer-test' });
  const tokens = new TokenProvider(cfg);
  const client = createDefenderClient(cfg, { logger, registry, tokens, ...(opts.clock && { clock: opts.clock }) });
  const writer = new Writer(cfg, { kafka, client, tokens, logger, metrics: createWriterMetrics(registry), instanceId: randomUUID() });
  await writer.start();
  let stopped: Promise<void> | undefined;
  return {
    writer,
    client,
    cfg,
    registry,
    lines,
    stop: () => (stopped ??= (async () => {
      await writer.close();
      await client.close();
      await kafka.close();
    })()),
  };
}

/** The writer's real entry point (src/main.ts) as a child process; its output is kept for failures. */
export function spawnWriter(env: Record<string, string>): { child: ChildProcess; output: string[] } {
  const output: string[] = [];
  const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', new URL('../src/main.ts', import.meta.url).pathname], {
    env: { PATH: process.env.PATH ?? '', HTTP_PORT: '0', CONNECTOR_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (c: Buffer) => output.push(c.toString()));
  child.stderr?.on('data', (c: Buffer) => output.push(c.toString()));
  return { child, output };
}

export async function createCommandsTopic(t: Topics, partitions: number): Promise<void> {
  const kafka = createKafka({ brokers: requireBrokers(), clientId: 'writer-test-admin' });
  const admin = await kafka.admin();
  try {
    await admin.createTopics([{ name: t.commands, partitions, config: {} }]);
  } finally {
    await admin.close();
    await kafka.close();
  }
}

export async function publish(t: Topics, commands: readonly Command[]): Promise<void> {
  const kafka = createKafka({ brokers: requireBrokers(), clientId: 'writer-test-producer' });
  try {
    const p = await kafka.producer();
    for (let i = 0; i < commands.length; i += 1000) {
      await p.send(commands.slice(i, i + 1000).map((c) => ({ topic: t.commands, key: c.key, value: encodeCommand(c) })));
    }
    await p.close();
  } finally {
    await kafka.close();
  }
}

export async function publishRaw(t: Topics, records: readonly { key: string; value: string }[]): Promise<void> {
  const kafka = createKafka({ brokers: requireBrokers(), clientId: 'writer-test-producer' });
  try {
    const p = await kafka.producer();
    await p.send(records.map((r) => ({ topic: t.commands, ...r })));
    await p.close();
  } finally {
    await kafka.close();
  }
}

/** Total committed-offset lag of the group (0 = every command committed). */
export async function groupLag(t: Topics): Promise<bigint> {
  const kafka = createKafka({ brokers: requireBrokers(), clientId: 'writer-test-lag' });
  try {
    const c = await kafka.consumer({ groupId: t.group, topics: [t.commands] });
    const lags = await c.lag();
    // Never joined: closing without run() does not touch the group.
    await c.close();
    return lags.reduce((s, l) => s + (l.committed === null ? l.end : l.lag), 0n);
  } finally {
    await kafka.close();
  }
}

export async function readDlq(t: Topics): Promise<Record<string, unknown>[]> {
  const kafka = createKafka({ brokers: requireBrokers(), clientId: 'writer-test-dlq' });
  try {
    const out: Record<string, unknown>[] = [];
    const all = await kafka.readCompacted(t.dlq);
    for (const v of all.values()) out.push(JSON.parse(v.value.toString('utf8')) as Record<string, unknown>);
    return out;
  } finally {
    await kafka.close();
  }
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export const ip = (i: number): string => `93.184.${(i >> 8) & 255}.${i & 255}`;

let seq = 0;
/** An upsert asserted by `source` now (the expiration anchors on the event time). */
export function up(source: string, value: string, score = 70, at = Date.now() - 1000): Command {
  return {
    schemaVersion: 1,
    op: 'upsert',
    key: `IpAddress:${value}`,
    source: { id: source, standardId: `indicator--${source}`, entityType: 'Indicator', streamId: 'live', eventId: `${at}-${seq++}`, eventName: 'create' },
    facts: facts({ value, score }),
  };
}

export function down(source: string, value: string, at = Date.now()): Command {
  return {
    schemaVersion: 1,
    op: 'retract',
    key: `IpAddress:${value}`,
    source: { id: source, standardId: `indicator--${source}`, entityType: 'Indicator', streamId: 'live', eventId: `${at}-${seq++}`, eventName: 'delete' },
    reason: 'deleted',
  };
}

/** Our indicators in the emulator, as value → action, sorted. */
export function ours(emu: DefenderEmulator): string[] {
  return emu
    .indicators()
    .filter((i) => i.createdBy === CLIENT_ID)
    .map((i) => `${i.indicatorValue}:${i.action}`)
    .sort();
}

export function writes(emu: DefenderEmulator): number {
  const s = emu.stats();
  return s.import.calls + s.batchDelete.calls;
}

/** The group's committed offset per partition ('-' when none). */
export async function committedOffsets(t: Topics): Promise<string[]> {
  const kafka = createKafka({ brokers: requireBrokers(), clientId: 'writer-test-lag' });
  try {
    const c = await kafka.consumer({ groupId: t.group, topics: [t.commands] });
    const lags = await c.lag();
    await c.close();
    return lags.map((l) => `${l.partition}:${l.committed === null ? '-' : l.committed.toString()}`);
  } finally {
    await kafka.close();
  }
}

/** The state topic as key → offset (the offset moves whenever a key is written again). */
export async function stateSnapshot(t: Topics): Promise<Record<string, string>> {
  const kafka = createKafka({ brokers: requireBrokers(), clientId: 'writer-test-state' });
  try {
    const out: Record<string, string> = {};
    for (const [k, v] of await kafka.readCompacted(t.state)) out[k] = v.offset.toString();
    return out;
  } finally {
    await kafka.close();
  }
}

export async function gauge(registry: Registry, name: string): Promise<number | undefined> {
  const m = await registry.getSingleMetric(name)?.get();
  return m?.values[0]?.value;
}

/**
 * Time that passes only when the client waits (a quota wait or a backoff moves it at once) and not
 * during a request. Given to the writer and, as its clock, to the emulator, both see the same instants
 * whatever the machine's load: a call is sent and received at the same time, and a rate measured by
 * the emulator is the rate the writer chose.
 */
export function virtualClock(): Clock {
  let t = 0;
  return {
    now: () => t,
    sleep: (ms, signal) => {
      if (signal?.aborted) return Promise.reject(signal.reason as Error);
      t += ms;
      return new Promise((resolve) => setImmediate(resolve));
    },
  };
}

/** The most requests in any window of `windowMs` (by their recorded times). */
export function maxInWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while ((sorted[j] ?? 0) <= (sorted[i] ?? 0) - windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}
