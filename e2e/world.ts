// One scenario's world, from a clean start: fresh OpenCTI and Defender emulators (in this process,
// over real HTTP), fresh topics and groups on the shared broker, the services as supervised child
// processes, the history appended in chunks, quiescence, and the comparison with the oracle.
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startDefenderEmulator, startOpenCtiEmulator, type DefenderEmulator, type DefenderEmulatorOptions, type Indicator, type OpenCtiEmulator } from '@octi-defender/emulators';
import { createKafka, type Kafka } from '@octi-defender/kafka';
import type { RestartableBroker } from '@octi-defender/kafka/testing';
import { foreignIndicator, type History, type Step } from './history.ts';
import { expectedState, keyOf, type Expected } from './oracle.ts';
import { ENTRY, Supervised } from './supervisor.ts';

export const TENANT = '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b';
export const CLIENT_ID = '0b9d7e6c-5a4f-4e3d-8c2b-1a0f9e8d7c6b';
export const SECRET = 'e2e-client-secret-value';
export const OCTI_TOKEN = 'e2e-opencti-token';
export const FOREIGN_CLIENT = 'a7e3c1d9-2b4f-4a6e-9d8c-7f5e3b1a0c2d';
const FOREIGN_SECRET = 'e2e-other-application-secret';
const FOREIGN_CREATOR = { clientId: FOREIGN_CLIENT, displayName: 'SOC console' };
const MDE_SCOPE = 'https://api.securitycenter.microsoft.com/.default';
const STREAM = 'e2e-stream';
/** The listeners' lease (`LISTENER_LEASE_TIMEOUT_MS`). */
export const LISTENER_LEASE_MS = 6000;

export interface Figures {
  missing: number;
  unexpected: number;
  duplicated: number;
  foreignTouched: number;
  expected: number;
  held: number;
  examples: string[];
}

/**
 * A Defender tenant and the writer group that serves it (one Deployment, consumer group and state
 * topic per tenant, as deploy/k8s/overlays/prod does), with the other creators' indicators seeded in it.
 */
export interface Tenant {
  readonly name: string;
  readonly tenantId: string;
  readonly mde: DefenderEmulator;
  readonly writerGroup: string;
  readonly state: string;
  /** Other creators' indicators as seeded: the comparison expects each unchanged. */
  readonly foreign: Indicator[];
}

export interface WorldOptions {
  readonly name: string;
  readonly broker: RestartableBroker;
  readonly logDir: string;
  readonly defender?: Partial<DefenderEmulatorOptions>;
  readonly writerEnv?: Record<string, string>;
  readonly partitions?: number;
}

/** A Defender emulator for one tenant: our client, and the other application (it deletes its own). */
function startTenantEmulator(tenantId: string, defender: Partial<DefenderEmulatorOptions> = {}): Promise<DefenderEmulator> {
  return startDefenderEmulator({
    tenantId,
    clients: [{ clientId: CLIENT_ID, clientSecret: SECRET }, { clientId: FOREIGN_CLIENT, clientSecret: FOREIGN_SECRET, displayName: FOREIGN_CREATOR.displayName }],
    rateLimits: false,
    maxRequestLog: 1_000_000,
    port: 0,
    ...defender,
  });
}

export class World {
  readonly name: string;
  readonly broker: RestartableBroker;
  readonly octi: OpenCtiEmulator;
  readonly kafka: Kafka;
  readonly topics: { commands: string; dlq: string; checkpoints: string; state: string; writerGroup: string; listenerGroup: string; sightings: string };
  readonly processes: Supervised[] = [];
  /** The first is the scenario's tenant (`mde`, `foreign`); `addTenant` adds others. */
  readonly tenants: Tenant[] = [];
  readonly logDir: string;
  #writerEnv: Record<string, string>;
  #hosts = 0;
  #suffix: string;

  private constructor(opts: WorldOptions, octi: OpenCtiEmulator) {
    this.name = opts.name;
    this.broker = opts.broker;
    this.logDir = opts.logDir;
    this.octi = octi;
    this.kafka = createKafka({ brokers: opts.broker.brokers, clientId: 'e2e' });
    const s = `${opts.name}-${randomUUID().slice(0, 6)}`;
    this.#suffix = s;
    this.topics = {
      commands: `e2e.${s}.indicators`,
      dlq: `e2e.${s}.dlq`,
      checkpoints: `e2e.${s}.checkpoints`,
      state: `e2e.${s}.state`,
      writerGroup: `e2e.${s}.writers`,
      listenerGroup: `e2e.${s}.listener`,
      sightings: `e2e.${s}.sightings`,
    };
    this.#writerEnv = opts.writerEnv ?? {};
  }

  static async create(opts: WorldOptions): Promise<World> {
    const octi = await startOpenCtiEmulator({ token: OCTI_TOKEN, streams: [{ id: STREAM, live: true }], heartbeatMs: 1000, maxLength: 1_000_000, port: 0 });
    const w = new World(opts, octi);
    w.tenants.push({ name: 'e2e', tenantId: TENANT, mde: await startTenantEmulator(TENANT, opts.defender), writerGroup: w.topics.writerGroup, state: w.topics.state, foreign: [] });
    const admin = await w.kafka.admin();
    try {
      await admin.createTopics([{ name: w.topics.commands, partitions: opts.partitions ?? 4, config: {} }]);
    } finally {
      await admin.close();
    }
    return w;
  }

  /** The scenario's (first) tenant's Defender. */
  get mde(): DefenderEmulator {
    return this.tenants[0]!.mde;
  }

  /** The other creators' indicators seeded in the first tenant. */
  get foreign(): Indicator[] {
    return this.tenants[0]!.foreign;
  }

  /** Another Defender tenant with its own writer group and state topic (`writer({ tenant })`). */
  async addTenant(name: string, defender?: Partial<DefenderEmulatorOptions>): Promise<Tenant> {
    const tenantId = randomUUID();
    const t: Tenant = {
      name,
      tenantId,
      mde: await startTenantEmulator(tenantId, defender),
      writerGroup: `e2e.${this.#suffix}.writers-${name}`,
      state: `e2e.${this.#suffix}.state-${name}`,
      foreign: [],
    };
    this.tenants.push(t);
    return t;
  }

  /**
   * Another creator's indicators, stored in Defender as it would (another application's client id by
   * default; `creator` names another, e.g. an analyst's); `fields` adds or overrides body fields.
   */
  seedForeign(values: readonly string[], action = 'Block', opts: { fields?: Record<string, unknown>; creator?: { clientId: string; displayName: string }; tenant?: Tenant } = {}): Indicator[] {
    const t = opts.tenant ?? this.tenants[0]!;
    const seeded = t.mde.seedIndicators(values.map((v) => foreignIndicator(v, action, opts.fields)), opts.creator ?? FOREIGN_CREATOR);
    t.foreign.push(...seeded);
    return seeded;
  }

  /**
   * The other application deletes `count` of its seeded indicators through the API (its own token,
   * BatchDelete in chunks of 500), as it would; they leave the indicators the comparison protects.
   * Resolves to the ids deleted.
   */
  async removeForeign(count: number, tenant: Tenant = this.tenants[0]!): Promise<string[]> {
    const gone = tenant.foreign.filter((f) => f.createdBy === FOREIGN_CLIENT).slice(0, count);
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: FOREIGN_CLIENT, client_secret: FOREIGN_SECRET, scope: MDE_SCOPE });
    const token = await fetch(tenant.mde.tokenUrl, { method: 'POST', body: form });
    if (!token.ok) throw new Error(`the other application got no token: ${token.status} ${await token.text()}`);
    const { access_token: bearer } = (await token.json()) as { access_token: string };
    for (let i = 0; i < gone.length; i += 500) {
      const ids = gone.slice(i, i + 500).map((f) => f.id);
      const res = await fetch(`${tenant.mde.url}/api/indicators/BatchDelete`, {
        method: 'POST',
        headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
        body: JSON.stringify({ IndicatorIds: ids }),
      });
      if (res.status !== 204) throw new Error(`the other application's BatchDelete answered ${res.status}: ${await res.text()}`);
    }
    const ids = new Set(gone.map((f) => f.id));
    tenant.foreign.splice(0, tenant.foreign.length, ...tenant.foreign.filter((f) => !ids.has(f.id)));
    return [...ids];
  }

  listener(name = 'listener'): Supervised {
    const p = new Supervised(
      {
        name,
        entry: ENTRY.listener,
        hostname: `${name}-pod`,
        env: {
          CONNECTOR_LOG_LEVEL: 'info',
          KAFKA_BROKERS: this.broker.brokers.join(','),
          KAFKA_TOPIC_COMMANDS: this.topics.commands,
          KAFKA_TOPIC_DLQ: this.topics.dlq,
          KAFKA_TOPIC_CHECKPOINTS: this.topics.checkpoints,
          LISTENER_GROUP_ID: this.topics.listenerGroup,
          LISTENER_LEASE_TIMEOUT_MS: String(LISTENER_LEASE_MS),
          LISTENER_RECONNECT_MAX_MS: '2000',
          LISTENER_HEARTBEAT_TIMEOUT_MS: '5000',
          OPENCTI_URL: this.octi.url,
          OPENCTI_TOKEN: OCTI_TOKEN,
          CONNECTOR_LIVE_STREAM_ID: STREAM,
          SHUTDOWN_TIMEOUT_MS: '10000',
        },
      },
      this.logDir,
    );
    this.processes.push(p);
    return p;
  }

  /** A writer replica of `tenant`'s group (default the first); `hostname` defaults to one of its own (a pod). */
  writer(opts: { name?: string; hostname?: string; env?: Record<string, string>; tenant?: Tenant } = {}): Supervised {
    const t = opts.tenant ?? this.tenants[0]!;
    this.#hosts += 1;
    const name = opts.name ?? `writer-${this.#hosts}`;
    const stateDir = join(this.logDir, `${name}-state`);
    mkdirSync(stateDir, { recursive: true });
    const p = new Supervised(
      {
        name,
        entry: ENTRY.writer,
        hostname: opts.hostname ?? `${name}-pod`,
        env: {
          CONNECTOR_LOG_LEVEL: 'info',
          KAFKA_BROKERS: this.broker.brokers.join(','),
          KAFKA_TOPIC_COMMANDS: this.topics.commands,
          KAFKA_TOPIC_DLQ: this.topics.dlq,
          KAFKA_TOPIC_STATE: t.state,
          KAFKA_CONSUMER_GROUP: t.writerGroup,
          WRITER_TENANT_NAME: t.name,
          MICROSOFT_DEFENDER_INTEL_TENANT_ID: t.tenantId,
          MICROSOFT_DEFENDER_INTEL_CLIENT_ID: CLIENT_ID,
          MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: SECRET,
          MICROSOFT_DEFENDER_INTEL_TOKEN_ENDPOINT: t.mde.tokenUrl,
          MICROSOFT_DEFENDER_INTEL_BASE_URL: t.mde.url,
          WRITER_SESSION_TIMEOUT_MS: '6000',
          WRITER_LAG_INTERVAL_MS: '1000',
          WRITER_STATE_DIR: stateDir,
          SHUTDOWN_TIMEOUT_MS: '15000',
          // The emulator's rate limits are off unless a scenario turns them on; the writer's own
          // quotas are raised alike (the quota scenario sets both to the real figures).
          DEFENDER_QUOTA_IMPORT_PER_MINUTE: '6000',
          DEFENDER_QUOTA_BATCH_DELETE_PER_MINUTE: '6000',
          DEFENDER_QUOTA_BATCH_DELETE_PER_HOUR: '100000',
          DEFENDER_QUOTA_LIST_PER_MINUTE: '6000',
          DEFENDER_QUOTA_LIST_PER_HOUR: '100000',
          DEFENDER_RETRY_MAX_MS: '10000',
          DEFENDER_HTTP_TIMEOUT_MS: '30000',
          DEFENDER_BREAKER_RESET_MS: '3000',
          WRITER_RETRY_PAUSE_MS: '500',
          ...this.#writerEnv,
          ...opts.env,
        },
      },
      this.logDir,
    );
    this.processes.push(p);
    return p;
  }

  /** The tenant's sighting-reporter (alerts → OpenCTI sightings), polling every second. */
  reporter(opts: { name?: string; env?: Record<string, string> } = {}): Supervised {
    const name = opts.name ?? 'reporter';
    const p = new Supervised(
      {
        name,
        entry: ENTRY.reporter,
        hostname: `${name}-pod`,
        env: {
          CONNECTOR_LOG_LEVEL: 'info',
          KAFKA_BROKERS: this.broker.brokers.join(','),
          KAFKA_TOPIC_SIGHTINGS: this.topics.sightings,
          REPORTER_TENANT_NAME: 'e2e',
          OPENCTI_URL: this.octi.url,
          OPENCTI_TOKEN: OCTI_TOKEN,
          MICROSOFT_DEFENDER_INTEL_TENANT_ID: TENANT,
          MICROSOFT_DEFENDER_INTEL_CLIENT_ID: CLIENT_ID,
          MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: SECRET,
          MICROSOFT_DEFENDER_INTEL_TOKEN_ENDPOINT: this.mde.tokenUrl,
          MICROSOFT_DEFENDER_INTEL_BASE_URL: this.mde.url,
          REPORTER_POLL_INTERVAL_MS: '1000',
          REPORTER_OWNED_REFRESH_MS: '2000',
          REPORTER_INITIAL_LOOKBACK_MS: String(3 * 86_400_000),
          REPORTER_RETRY_MAX_MS: '2000',
          REPORTER_ALERTS_PAGE_SIZE: '50',
          SHUTDOWN_TIMEOUT_MS: '10000',
          ...opts.env,
        },
      },
      this.logDir,
    );
    this.processes.push(p);
    return p;
  }

  /** Appends steps to the OpenCTI log (one emulator call per op, malformed events where scripted). */
  append(steps: readonly Step[]): void {
    for (const s of steps) {
      if (s.kind === 'op') this.octi.append(s.op);
      else this.octi.injectMalformed(s.malformed);
    }
  }

  /** Appends steps `per` at a time every `delayMs` (small listener transactions, small fetches). */
  async trickle(steps: readonly Step[], per: number, delayMs: number): Promise<void> {
    for (let i = 0; i < steps.length; i += per) {
      this.append(steps.slice(i, i + per));
      await sleep(delayMs);
    }
  }

  /**
   * Appends steps each in a millisecond of its own, so that the order of the steps is the order of
   * their event times (the writer's cap ranks equal scores by event time, the oracle by step order).
   */
  async appendSpaced(steps: readonly Step[]): Promise<void> {
    let last = 0;
    for (const s of steps) {
      while (Date.now() <= last) await sleep(1);
      last = Date.now();
      this.append([s]);
    }
  }

  /** Appends the history in `chunks` parts, calling `between(i)` after part i (not after the last). */
  async play(history: History, chunks: number, between?: (i: number) => Promise<void>): Promise<void> {
    const size = Math.ceil(history.steps.length / chunks);
    for (let i = 0; i < chunks; i++) {
      this.append(history.steps.slice(i * size, (i + 1) * size));
      if (i < chunks - 1) await between?.(i);
    }
  }

  async #checkpointed(): Promise<boolean> {
    const last = this.octi.lastEventId();
    if (last === undefined) return true;
    let values;
    try {
      values = await this.kafka.readCompacted(this.topics.checkpoints);
    } catch {
      return false;
    }
    const raw = values.get(STREAM)?.value.toString();
    if (!raw) return false;
    const at = (JSON.parse(raw) as { lastEventId: string }).lastEventId;
    const [am = 0, as = 0] = at.split('-').map(Number);
    const [lm = 0, ls = 0] = last.split('-').map(Number);
    return am > lm || (am === lm && as >= ls);
  }

  /**
   * Commands the writers' group has not committed: per partition, the offset after the last command
   * minus the committed offset. Not `end − committed`: a partition whose last fetch held only a
   * transaction marker stays one behind its end (`stuckAtMarker` counts those).
   */
  async writerBehind(tenant: Tenant = this.tenants[0]!): Promise<{ behind: bigint; stuckAtMarker: number }> {
    const afterLast = new Map<number, bigint>();
    await this.kafka.scanCompacted(this.topics.commands, (_key, r) => {
      if (r.offset + 1n > (afterLast.get(r.partition) ?? 0n)) afterLast.set(r.partition, r.offset + 1n);
    });
    const c = await this.kafka.consumer({ groupId: tenant.writerGroup, topics: [this.topics.commands] });
    try {
      let behind = 0n;
      let stuckAtMarker = 0;
      for (const l of await c.lag()) {
        const wanted = afterLast.get(l.partition) ?? 0n;
        const committed = l.committed ?? 0n;
        if (committed < wanted) behind += wanted - committed;
        else if (l.lag > 0n) stuckAtMarker += 1;
      }
      return { behind, stuckAtMarker };
    } finally {
      await c.close();
    }
  }

  /**
   * Every running writer has completed the reconciliation that follows an assignment or a restart
   * (`octi_writer_repair_pending` 0): until then, what a killed or evicted owner sent without
   * committing may still be in Defender, and the writer says so. And none has paused consumption
   * (`octi_writer_paused` 0): a writer waiting to retry what Defender refused is not done, even with
   * every offset committed and no call for a while.
   */
  async #settled(): Promise<boolean> {
    for (const p of this.processes) {
      if (!p.spec.name.startsWith('writer') || !p.running) continue;
      try {
        const text = await (await fetch(`http://127.0.0.1:${p.port}/metrics`)).text();
        if (!/^octi_writer_repair_pending 0$/m.test(text) || !/^octi_writer_paused 0$/m.test(text)) return false;
      } catch {
        return false;
      }
    }
    return true;
  }

  /** Partitions whose committed offset stayed short of the end (a marker) at the last quiescence. */
  stuckAtMarker = 0;

  /**
   * Quiescence: the listener checkpointed past the last OpenCTI event, every writer finished its
   * post-assignment repair and has not paused consumption, every tenant's writers' group committed every command, and each tenant's
   * Defender has no request pending and answered none that changes it (any but a list) for
   * `quietMs`; or false after `timeoutMs`.
   */
  async quiesce(opts: { quietMs?: number; timeoutMs?: number } = {}): Promise<boolean> {
    const quietMs = opts.quietMs ?? 4000;
    const deadline = Date.now() + (opts.timeoutMs ?? 240_000);
    let streak = 0;
    while (Date.now() < deadline) {
      // Requests are recorded when answered: one held by a latency fault shows only as pending.
      // Lists read: a writer that lists every few seconds (a short reconciliation interval) and
      // changes nothing is quiet.
      let ok = this.tenants.every(({ mde }) => {
        const reqs = mde.requests();
        const last = reqs.findLast((r) => r.endpoint !== 'list');
        return Date.now() - (last === undefined ? 0 : Date.parse(last.time)) >= quietMs && mde.pendingRequests() === 0;
      });
      ok &&= await this.#checkpointed();
      ok &&= await this.#settled();
      if (ok) {
        try {
          let stuck = 0;
          for (const t of this.tenants) {
            const b = await this.writerBehind(t);
            ok &&= b.behind === 0n;
            stuck += b.stuckAtMarker;
          }
          this.stuckAtMarker = stuck;
        } catch {
          ok = false;
        }
      }
      streak = ok ? streak + 1 : 0;
      if (streak >= 2) return true;
      await sleep(1000);
    }
    return false;
  }

  /** A tenant's Defender (the first by default) compared with the oracle; `room`: see expectedState. */
  check(history: History, opts: { rbacGroupNames?: readonly string[]; foreignKeys?: ReadonlySet<string>; room?: number; tenant?: Tenant } = {}): Figures {
    const t = opts.tenant ?? this.tenants[0]!;
    const all = t.mde.indicators();
    const foreignKeys = new Set([...(opts.foreignKeys ?? []), ...t.foreign.map((f) => keyOf(f.indicatorType, f.indicatorValue))]);
    const expected = expectedState(history, { foreignKeys, ...(opts.rbacGroupNames && { rbacGroupNames: opts.rbacGroupNames }), ...(opts.room !== undefined && { room: opts.room }) });
    const examples: string[] = [];
    const note = (s: string): void => {
      if (examples.length < 8) examples.push(s);
    };
    const identity = (e: { action: string; rbacGroupNames: readonly string[] }): string => `${e.action}[${[...e.rbacGroupNames].sort().join(',')}]`;
    const ours = all.filter((i) => i.createdBy === CLIENT_ID);
    const held = new Map<string, Indicator[]>();
    for (const i of ours) {
      const k = keyOf(i.indicatorType, i.indicatorValue);
      held.set(k, [...(held.get(k) ?? []), i]);
    }
    let missing = 0;
    for (const [k, e] of expected) {
      if (!(held.get(k) ?? []).some((i) => identity(i) === identity(e))) {
        missing += 1;
        note(`missing ${k} ${identity(e)}${held.has(k) ? ` (held: ${held.get(k)!.map(identity).join(' ')})` : ''}`);
      }
    }
    let unexpected = 0;
    for (const [k, is] of held) {
      const e: Expected | undefined = expected.get(k);
      for (const i of is) {
        if (e === undefined || identity(i) !== identity(e)) {
          unexpected += 1;
          note(`unexpected ${k} ${identity(i)} id ${i.id}${e ? ` (expected ${identity(e)})` : ''}`);
        }
      }
    }
    const byKey = new Map<string, number>();
    for (const i of all) byKey.set(keyOf(i.indicatorType, i.indicatorValue), (byKey.get(keyOf(i.indicatorType, i.indicatorValue)) ?? 0) + 1);
    const duplicated = [...byKey.values()].filter((c) => c > 1).length;
    for (const [k, c] of byKey) if (c > 1) note(`duplicated ${k} ×${c}`);
    let foreignTouched = 0;
    const now = new Map(all.map((i) => [i.id, i]));
    for (const f of t.foreign) {
      const cur = now.get(f.id);
      if (!cur) {
        foreignTouched += 1;
        note(`foreign ${f.indicatorValue} (id ${f.id}) deleted`);
      } else if (JSON.stringify(cur) !== JSON.stringify(f)) {
        foreignTouched += 1;
        const changed = Object.keys(f).filter((k) => JSON.stringify((cur as unknown as Record<string, unknown>)[k]) !== JSON.stringify((f as unknown as Record<string, unknown>)[k]));
        note(`foreign ${f.indicatorValue} (id ${f.id}) modified: ${changed.join(', ')}`);
      }
    }
    return { missing, unexpected, duplicated, foreignTouched, expected: expected.size, held: ours.length, examples };
  }

  async close(): Promise<void> {
    await Promise.all(this.processes.map((p) => p.close()));
    // For post-mortems: every Defender request and the final indicators (tenants after the first by name).
    for (const [i, t] of this.tenants.entries()) {
      const suffix = i === 0 ? '' : `-${t.name}`;
      writeFileSync(join(this.logDir, `defender-requests${suffix}.jsonl`), t.mde.requests().map((r) => JSON.stringify(r)).join('\n') + '\n');
      writeFileSync(join(this.logDir, `defender-indicators${suffix}.json`), JSON.stringify(t.mde.indicators(), null, 1));
    }
    if (this.mde.alerts().length > 0) {
      writeFileSync(join(this.logDir, 'defender-alerts.json'), JSON.stringify(this.mde.alerts(), null, 1));
      writeFileSync(join(this.logDir, 'opencti-sightings.json'), JSON.stringify(this.octi.sightings(), null, 1));
    }
    await this.kafka.close();
    await this.octi.close();
    await Promise.all(this.tenants.map((t) => t.mde.close()));
  }
}
