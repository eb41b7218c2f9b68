// Fixtures of the command line's tests: the bin run as a child process (as an operator runs it), the
// emulators over real HTTP, a real Kafka broker (KAFKA_BROKERS) and per-test topic names.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { Command } from '@octi-defender/indicators';
import { requireBrokers } from '@octi-defender/kafka/testing';

const BIN = fileURLToPath(new URL('../src/bin.ts', import.meta.url));
export const OPENCTI_TOKEN = 'opencti-cli-test-token-5f1e0c';
export const TENANT = '11111111-2222-3333-4444-555555555555';
export const CLIENT = { clientId: '45097602-1234-4678-9234-9f453233e62c', clientSecret: 'cli-test-secret-9a8b7c', displayName: 'OpenCTI Defender Sync' };

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `octi-defender <args>` with exactly `env` (plus PATH) and returns its exit code and output. */
export function runCli(args: readonly string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export function uniqueNames(): { commands: string; checkpoints: string; dlq: string; tenant: string; suffix: string } {
  const s = randomUUID().slice(0, 8);
  return { commands: `cli-${s}.indicators`, checkpoints: `cli-${s}.checkpoints`, dlq: `cli-${s}.dlq`, tenant: `t${s}`, suffix: s };
}

function kafkaEnv(names: ReturnType<typeof uniqueNames>): Record<string, string> {
  return {
    KAFKA_BROKERS: requireBrokers().join(','),
    KAFKA_TOPIC_COMMANDS: names.commands,
    KAFKA_TOPIC_DLQ: names.dlq,
  };
}

export function listenerEnv(openctiUrl: string, streams: readonly string[], names: ReturnType<typeof uniqueNames>, token = OPENCTI_TOKEN): Record<string, string> {
  return { ...kafkaEnv(names), OPENCTI_URL: openctiUrl, OPENCTI_TOKEN: token, CONNECTOR_LIVE_STREAM_ID: streams.join(','), KAFKA_TOPIC_CHECKPOINTS: names.checkpoints };
}

export function writerEnv(mde: { url: string; tokenUrl: string }, names: ReturnType<typeof uniqueNames>, secret = CLIENT.clientSecret): Record<string, string> {
  return {
    ...kafkaEnv(names),
    WRITER_TENANT_NAME: names.tenant,
    MICROSOFT_DEFENDER_INTEL_TENANT_ID: TENANT,
    MICROSOFT_DEFENDER_INTEL_CLIENT_ID: CLIENT.clientId,
    MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: secret,
    MICROSOFT_DEFENDER_INTEL_TOKEN_ENDPOINT: mde.tokenUrl,
    MICROSOFT_DEFENDER_INTEL_BASE_URL: mde.url,
  };
}

/** Lines of a command's output starting with ✗. */
export function failures(out: string): string[] {
  return out.split('\n').filter((l) => l.startsWith('✗'));
}

/** Polls `probe` until it returns a value (not undefined/false); fails naming `what` after `timeoutMs`. */
export async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface ServiceProcess {
  readonly output: () => string;
  /** SIGTERM, then waits for the exit; returns the exit code. */
  stop(): Promise<number>;
}

/** Starts a service's main.ts as a child process, as deployed, with exactly `env` (plus PATH). */
export function startService(main: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ['--disable-warning=TimeoutNegativeWarning', fileURLToPath(new URL(`../../../${main}`, import.meta.url))], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : -1))));
  return {
    output: () => output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** An upsert command of an IpAddress indicator, as the listener publishes it (event a minute old). */
export function ipUpsert(value: string, i: number, over: { streamId?: string; score?: number; name?: string | null } = {}): Command {
  const at = Date.now() - 60_000;
  return {
    schemaVersion: 1,
    op: 'upsert',
    key: `IpAddress:${value}`,
    source: {
      id: `indicator-${i}`,
      standardId: `indicator--0000000${i}-0000-4000-8000-000000000000`,
      entityType: 'Indicator',
      streamId: over.streamId ?? 'live',
      eventId: `${at}-${i}`,
      eventName: 'create',
    },
    facts: {
      type: 'IpAddress',
      value,
      name: over.name ?? null,
      description: null,
      score: over.score ?? 80,
      confidence: null,
      labels: [],
      markings: [],
      tlp: null,
      validFrom: null,
      validUntil: null,
      revoked: false,
      detection: true,
      createdBy: null,
      created: null,
      updated: null,
    },
  };
}
