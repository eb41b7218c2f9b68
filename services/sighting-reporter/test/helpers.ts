// A reporter wired to the real broker and the two emulators over HTTP, driven poll by poll.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { startDefenderEmulator, startOpenCtiEmulator, OCTI_EXT, type DefenderEmulator, type OpenCtiEmulator, type StixObject } from '@octi-defender/emulators';
import { createKafka, type Kafka } from '@octi-defender/kafka';
import { requireBrokers } from '@octi-defender/kafka/testing';
import { createLogger, createRegistry, type Registry } from '@octi-defender/platform';
import { loadReporterConfig, type ReporterConfig } from '../src/config.ts';
import { ReporterMetrics } from '../src/metrics.ts';
import { Reporter } from '../src/reporter.ts';
import { createAdapters, type ReporterAdapters } from '../src/wiring.ts';

export const TENANT = '11111111-2222-3333-4444-555555555555';
export const CLIENT_ID = '45097602-1234-4678-9234-9f453233e62c';
export const OTHER_CLIENT = '99999999-aaaa-4bbb-8ccc-dddddddddddd';
export const SECRET = 'reporter-secret';
const OCTI_TOKEN = 'reporter-octi-token';
const START = Date.parse('2026-12-05T10:00:00Z');

export interface World {
  readonly mde: DefenderEmulator;
  readonly octi: OpenCtiEmulator;
  /** Advances both the Defender emulator's clock and the reporter's. */
  advance(ms: number): void;
  now(): number;
  close(): Promise<void>;
}

export async function world(): Promise<World> {
  let offset = 0;
  const mde = await startDefenderEmulator({
    tenantId: TENANT,
    clients: [{ clientId: CLIENT_ID, clientSecret: SECRET }, { clientId: OTHER_CLIENT, clientSecret: 'x' }],
    port: 0,
    clock: () => START + offset,
    startTime: START,
  });
  const octi = await startOpenCtiEmulator({ token: OCTI_TOKEN, seed: 11, streams: [{ id: 'live' }] });
  return {
    mde,
    octi,
    advance: (ms) => {
      offset += ms;
    },
    now: () => mde.now(),
    close: async () => {
      await Promise.all([mde.close(), octi.close()]);
    },
  };
}

/** An indicator in OpenCTI (on the stream) and its copy in Defender created by `clientId`, externalID its OpenCTI id. */
export function ourIndicator(w: World, value: string, opts: { clientId?: string; type?: string } = {}): { openctiId: string; stix: StixObject } {
  const stix = w.octi.generator.indicator('ipv4');
  w.octi.append({ op: 'create', data: stix });
  const openctiId = (stix.extensions as Record<string, Record<string, string>>)[OCTI_EXT]!.id!;
  w.mde.seedIndicators(
    [{ indicatorValue: value, indicatorType: opts.type ?? 'IpAddress', action: 'Audit', generateAlert: true, title: `t ${value}`, description: 'd', externalID: openctiId }],
    { clientId: opts.clientId ?? CLIENT_ID },
  );
  return { openctiId, stix };
}

export function reporterEnv(w: World, topic: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    KAFKA_BROKERS: requireBrokers().join(','),
    REPORTER_TENANT_NAME: 'contoso',
    KAFKA_TOPIC_SIGHTINGS: topic,
    OPENCTI_URL: w.octi.url,
    OPENCTI_TOKEN: OCTI_TOKEN,
    MICROSOFT_DEFENDER_INTEL_TENANT_ID: TENANT,
    MICROSOFT_DEFENDER_INTEL_CLIENT_ID: CLIENT_ID,
    MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: SECRET,
    MICROSOFT_DEFENDER_INTEL_TOKEN_ENDPOINT: w.mde.tokenUrl,
    MICROSOFT_DEFENDER_INTEL_BASE_URL: w.mde.url,
    REPORTER_OWNED_REFRESH_MS: '60000',
    REPORTER_HTTP_TIMEOUT_MS: '5000',
    ...extra,
  };
}

interface RunningReporter {
  readonly reporter: Reporter;
  readonly registry: Registry;
  readonly cfg: ReporterConfig;
  readonly logs: string[];
  close(): Promise<void>;
}

export function uniqueTopic(): string {
  return `r-${randomUUID().slice(0, 8)}.sightings`;
}

/** A reporter opened (tests call poll()), or started (`start`: it polls by itself). */
export async function openReporter(w: World, env: Record<string, string>, opts: { start?: boolean } = {}): Promise<RunningReporter> {
  const cfg = loadReporterConfig(env);
  const logs: string[] = [];
  const logger = createLogger({ name: 'reporter-test', level: 'debug', secrets: [SECRET, OCTI_TOKEN], destination: new Writable({ write: (c: Buffer, _e, cb) => (logs.push(c.toString()), cb()) }) });
  const registry = createRegistry({ prefix: 'octi_reporter' });
  const kafka: Kafka = createKafka({ brokers: cfg.kafkaBrokers, clientId: 'reporter-test' });
  const adapters: ReporterAdapters = createAdapters(cfg, { logger, registry });
  const reporter = new Reporter(cfg, { kafka, alerts: adapters.alerts, owned: adapters.owned, opencti: adapters.opencti, logger, metrics: new ReporterMetrics(registry), now: () => w.now() });
  await (opts.start ? reporter.start() : reporter.open());
  return {
    reporter,
    registry,
    cfg,
    logs,
    close: async () => {
      await reporter.close();
      await adapters.close();
      await kafka.close();
    },
  };
}
