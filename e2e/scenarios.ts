// The scenarios. Each starts from a clean world, plays the scripted history with its faults, waits
// for quiescence and reports the comparison with the oracle plus how often each fault was answered.
import { setTimeout as sleep } from 'node:timers/promises';
import type { DefenderEmulator } from '@octi-defender/emulators';
import { buildHistory, type EntityRef, type History } from './history.ts';
import { compareSightings, expectedSightings, MATCHABLE, raiseAlerts, type RaisedAlert } from './sightings.ts';
import type { Supervised } from './supervisor.ts';
import { CLIENT_ID, type Figures, type World } from './world.ts';

export interface FaultCount {
  readonly name: string;
  readonly answered: number;
}

export interface Outcome {
  readonly quiescent: boolean;
  readonly figures: Figures;
  readonly faults: readonly FaultCount[];
  readonly notes: string[];
  /** A measure of the scenario's own out of bounds (e.g. a takeover slower than documented). */
  readonly failed?: string;
}

type DefenderOptions = NonNullable<Parameters<typeof World.create>[0]['defender']>;

export interface Scenario {
  readonly name: string;
  readonly ci: boolean;
  /** The Defender emulator's options, or a function of the history's size. */
  readonly defender?: DefenderOptions | ((size: number) => DefenderOptions);
  readonly writerEnv?: Record<string, string>;
  run(w: World, size: number): Promise<Outcome>;
}

const ZOMBIE_CHANGE_AFTER_MS = 2000;
const ZOMBIE_ROUNDS = 3;
const NETWORK = ['IpAddress', 'DomainName', 'Url'] as const;
export const FOREIGN_VALUES = ['8.26.56.10', '8.26.56.11', '8.20.247.20'];

/** Resolves once `writer` was SIGKILLed in the event-loop turn after the emulator answered a
 *  matching import with 200 (the child still has to read the answer and commit). */
export function killAfterAnswer(w: World, writer: Supervised | (() => Supervised | undefined), match: (body: string) => boolean = () => true, timeoutMs = 120_000): Promise<boolean> {
  const seen = new Set(w.mde.requests('import').map((r) => r.seq));
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const poll = (): void => {
      const hit = w.mde.requests('import').find((r) => !seen.has(r.seq) && r.status === 200 && r.clientId === CLIENT_ID && match(JSON.stringify(r.body)));
      if (hit) {
        const target = typeof writer === 'function' ? writer() : writer;
        if (target?.running) {
          void target.kill9().then(() => resolve(true));
          return;
        }
        seen.add(hit.seq);
      }
      if (Date.now() > deadline) resolve(false);
      else setImmediate(poll);
    };
    poll();
  });
}

/** Requests the faults `ids` answered, in the world's first tenant or the given one. */
export function faultHits(w: { readonly mde: DefenderEmulator }, ids: readonly string[]): number {
  const hits = new Map(w.mde.faultHits().map((h) => [h.id, h.hits]));
  return ids.reduce((n, id) => n + (hits.get(id) ?? 0), 0);
}

/** Quiescence, then the comparison; `faults` is read afterwards (a fault may hit until the end). */
export async function finish(w: World, h: History, faults: () => FaultCount[], opts: { rbacGroupNames?: readonly string[]; notes?: string[]; timeoutMs?: number } = {}): Promise<Outcome> {
  const quiescent = await w.quiesce({ ...(opts.timeoutMs !== undefined && { timeoutMs: opts.timeoutMs }) });
  const notes = [...(opts.notes ?? []), ...(w.stuckAtMarker > 0 ? [`writer lag stuck at 1 (a transaction marker) on ${w.stuckAtMarker} partition(s)`] : [])];
  return { quiescent, figures: w.check(h, { ...(opts.rbacGroupNames && { rbacGroupNames: opts.rbacGroupNames }) }), faults: faults(), notes };
}

/** Clean start: foreign indicators seeded, a listener and `writers` writers running. */
export async function boot(w: World, writers = 1, writerOpts: Parameters<World['writer']>[0] = {}): Promise<Supervised[]> {
  w.seedForeign(FOREIGN_VALUES);
  const ws = Array.from({ length: writers }, () => w.writer(writerOpts));
  const listener = w.listener();
  await Promise.all([listener.start(), ...ws.map((x) => x.start())]);
  await Promise.all([listener, ...ws].map((p) => p.waitReady()));
  return ws;
}

/** Waits until the emulator received at least `n` more calls of ours on `endpoint` (traffic is flowing). */
export async function callsSeen(w: World, n = 1, timeoutMs = 60_000): Promise<void> {
  const base = w.mde.requests().filter((r) => r.clientId === CLIENT_ID && r.endpoint !== 'token').length;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && w.mde.requests().filter((r) => r.clientId === CLIENT_ID && r.endpoint !== 'token').length < base + n) await sleep(100);
}

/** A gauge of the process's /metrics (the first series of that name; 0 when it does not answer). */
export async function gauge(p: Supervised, name: string): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${p.port}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    return Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

const values = (es: readonly EntityRef[]): string[] => es.map((e) => e.facts.value);

/**
 * Resolves once `reporter` was SIGKILLed right after OpenCTI's sightings changed (a poll in the
 * middle of its writes, before its Kafka commit), or false after `timeoutMs`.
 */
function killOnSightingWrite(w: World, reporter: Supervised, timeoutMs = 60_000): Promise<boolean> {
  const fingerprint = (): string => w.octi.sightings().map((x) => `${x.id}:${x.attribute_count}:${x.last_seen}`).sort().join(',');
  const before = fingerprint();
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve) => {
    const poll = (): void => {
      if (fingerprint() !== before && reporter.running) {
        void reporter.kill9().then(() => resolve(true));
        return;
      }
      if (Date.now() > deadline) resolve(false);
      else setTimeout(poll, 5);
    };
    poll();
  });
}

const SIGHTINGS_WHERE = 'Microsoft Defender for Endpoint (e2e)';

/** The reporter's successful polls so far (octi_reporter_polls_total{outcome="ok"}; 0 when it does not answer). */
async function okPolls(p: Supervised): Promise<number> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${p.port}/metrics`, { signal: AbortSignal.timeout(2000) })).text();
    return Number(/^octi_reporter_polls_total\{outcome="ok"\} (\S+)$/m.exec(text)?.[1] ?? 0);
  } catch {
    return 0;
  }
}

export const SCENARIOS: Scenario[] = [
  {
    name: 'sightings',
    ci: false,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      await boot(w);
      await w.play(h, 2, () => callsSeen(w));
      const synced = await w.quiesce();
      // Alerts on a sample of our indicators (every type, MD5 and certificates included: their
      // evidence cannot name them, so they must stay unsighted), and on the other application's.
      const ours = w.mde.indicators().filter((i) => i.createdBy === CLIENT_ID && i.externalID);
      const sample = ours.filter((_, i) => i % Math.max(1, Math.floor(ours.length / 60)) === 0).slice(0, 60);
      const foreign = w.mde.indicators().filter((i) => i.createdBy !== CLIENT_ID);
      const per = (i: number): number => 1 + (i % 3);
      const half = Math.ceil(sample.length / 2);
      const raised: RaisedAlert[] = [];
      raised.push(...raiseAlerts(w.mde, sample.slice(0, half), per, Date.now()));
      raised.push(...raiseAlerts(w.mde, foreign, () => 1, Date.now()));
      const reporter = w.reporter();
      await reporter.start();
      await reporter.waitReady();
      // The first half's sightings written and committed: the second half arrives and the reporter is
      // killed -9 in the middle of writing them (OpenCTI updated, Kafka not yet committed); the
      // supervisor restarts it, and it resumes from the committed records and position.
      const deadline = Date.now() + 60_000;
      while ((await okPolls(reporter)) < 1 && Date.now() < deadline) await sleep(200);
      const committedBefore = w.octi.sightings().length;
      raised.push(...raiseAlerts(w.mde, sample.slice(half), (i) => per(i + half), Date.now()));
      const killed = await killOnSightingWrite(w, reporter);
      // After the restart: events of counted alerts happen again (last seen moves, counts do not).
      await reporter.waitReady();
      for (const a of raised.filter((_, i) => i % 5 === 0)) w.mde.repeatAlert(a.alertId);
      const expected = expectedSightings(raised, ours);
      const unsighted = sample.filter((i) => !MATCHABLE.has(i.indicatorType)).length;
      // Quiescence: OpenCTI holds what is expected twice in a row, then again after several more polls.
      let figures = compareSightings(w.octi, expected, SIGHTINGS_WHERE);
      const exact = (f: typeof figures): boolean => f.missing + f.unexpected + f.duplicated + f.wrongCount === 0;
      let streak = 0;
      const until = Date.now() + 120_000;
      while (streak < 2 && Date.now() < until) {
        await sleep(1000);
        figures = compareSightings(w.octi, expected, SIGHTINGS_WHERE);
        streak = exact(figures) ? streak + 1 : 0;
      }
      const quiescent = streak >= 2;
      await sleep(5000);
      figures = compareSightings(w.octi, expected, SIGHTINGS_WHERE);
      const defender = w.check(h);
      const alertCount = raised.length;
      return {
        quiescent: quiescent && synced,
        figures: {
          missing: defender.missing + figures.missing,
          unexpected: defender.unexpected + figures.unexpected + figures.wrongCount,
          duplicated: defender.duplicated + figures.duplicated,
          foreignTouched: defender.foreignTouched,
          expected: defender.expected,
          held: defender.held,
          examples: [...defender.examples, ...figures.examples],
        },
        faults: [{ name: 'kill -9 of the reporter while writing sightings', answered: killed ? 1 : 0 }],
        notes: [
          `${committedBefore} sightings committed before the kill`,
          `${alertCount} alerts on ${sample.length} of our indicators (${unsighted} MD5/certificate ones, unsightable) and ${foreign.length} foreign ones`,
          `sightings expected ${figures.expected}, held ${figures.held}, wrong counts ${figures.wrongCount}`,
          `reporter restarts ${reporter.restarts}`,
        ],
      };
    },
  },
  {
    name: 'no-fault',
    ci: true,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      await boot(w);
      await w.play(h, 3, () => callsSeen(w));
      return finish(w, h, () => []);
    },
  },
  {
    name: 'crash-then-action-change',
    ci: true,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      const [writer] = await boot(w);
      await w.play(h, 1);
      await w.quiesce();
      const from = h.steps.length;
      const warned = Array.from({ length: 12 }, (_, i) => h.more.create(NETWORK[i % 3]!, { score: 15, tlp: 'TLP:GREEN' }));
      const wanted = values(warned);
      const killed = killAfterAnswer(w, writer!, (body) => wanted.some((v) => body.includes(v)) && body.includes('"Warn"'));
      w.append(h.steps.slice(from));
      const answered = await killed;
      // While the writer is down (before its restart replays): the score moves to Block.
      const next = h.steps.length;
      for (const e of warned) h.more.update(e, { score: 80 });
      w.append(h.steps.slice(next));
      return finish(w, h, () => [{ name: 'kill -9 after a Warn import', answered: answered ? 1 : 0 }]);
    },
  },
  {
    name: 'zombie-writer',
    ci: true,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      await boot(w, 2);
      await w.play(h, 1);
      await w.quiesce();
      // One import outlasts the session timeout (6 s) by far: its writer is evicted meanwhile. Three
      // rounds, as the outcome depends on what the evicted writer had fetched when its call returns.
      const slow: string[] = [];
      for (let round = 0; round < ZOMBIE_ROUNDS; round++) {
        const fault = w.mde.faults({ type: 'latency', latencyMs: 20_000, endpoints: ['import'], calls: 1 });
        slow.push(fault);
        let from = h.steps.length;
        const warned = Array.from({ length: 40 }, (_, i) => h.more.create(NETWORK[i % 3]!, { score: 15, tlp: 'TLP:GREEN' }));
        w.append(h.steps.slice(from));
        const deadline = Date.now() + 60_000;
        while (faultHits(w, [fault]) === 0 && Date.now() < deadline) await sleep(100);
        // The score change reaches the topic while the slow call is in flight: the writer that takes
        // the partitions over after the session timeout applies it; the evicted one still holds Warn.
        await sleep(ZOMBIE_CHANGE_AFTER_MS);
        from = h.steps.length;
        for (const e of warned) h.more.update(e, { score: 80 });
        w.append(h.steps.slice(from));
        await w.quiesce();
      }
      return finish(w, h, () => [{ name: 'import slower than the session timeout', answered: faultHits(w, slow) }]);
    },
  },
  {
    name: 'writer-kill-after-answer',
    ci: false,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      const [writer] = await boot(w);
      let kills = 0;
      await w.play(h, 4, async () => {
        if (await killAfterAnswer(w, writer!)) kills += 1;
      });
      // The last part too.
      return finish(w, h, () => [{ name: 'kill -9 after an import answer', answered: kills }]);
    },
  },
  {
    name: 'listener-kill',
    ci: false,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      await boot(w);
      const listener = w.processes.find((p) => p.spec.name === 'listener')!;
      let kills = 0;
      await w.play(h, 3, async () => {
        await callsSeen(w);
        if (listener.running) {
          await listener.kill9();
          kills += 1;
        }
      });
      return finish(w, h, () => [{ name: 'kill -9 of the listener', answered: kills }]);
    },
  },
  {
    name: 'broker-kill',
    ci: false,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      await boot(w);
      let errors = 0;
      const watch = w.processes.map((p) =>
        p.onLine((l) => {
          if (/ECONNREFUSED|KafkaJSConnectionError|Connection error|KafkaJSNumberOfRetriesExceeded|KafkaJSNonRetriableError/.test(l)) errors += 1;
        })
      );
      await w.play(h, 3, async (i) => {
        if (i !== 0) return;
        await callsSeen(w);
        await w.broker.kill();
        await sleep(5000);
        await w.broker.restart();
      });
      const out = await finish(w, h, () => [], { timeoutMs: 300_000 });
      watch.forEach((f) => f());
      return { ...out, faults: [{ name: 'broker kill -9 (client errors seen)', answered: errors }] };
    },
  },
  {
    name: 'defender-503-outage',
    ci: false,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      await boot(w);
      const ids: string[] = [];
      await w.play(h, 3, async (i) => {
        if (i === 0) ids.push(w.mde.faults({ type: 'status', status: 503, endpoints: ['import', 'batchDelete', 'list'], durationMs: 12_000 }));
        else await sleep(12_000);
      });
      return finish(w, h, () => [{ name: '503 for 12 s (breaker reset 3 s)', answered: faultHits(w, ids) }]);
    },
  },
  {
    name: '429-storm',
    ci: false,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      await boot(w);
      const ids: string[] = [];
      await w.play(h, 3, async () => {
        ids.push(w.mde.faults({ type: 'status', status: 429, retryAfterSec: 2, rate: 0.6, endpoints: ['import', 'batchDelete', 'list'], durationMs: 10_000 }));
        await sleep(5000);
      });
      return finish(w, h, () => [{ name: '429 with Retry-After 2 s', answered: faultHits(w, ids) }]);
    },
  },
  {
    name: 'token-faults',
    ci: false,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      await boot(w);
      const expiredBefore = (): number => w.mde.requests().filter((r) => r.status === 401 && r.fault === undefined && r.clientId === undefined && r.endpoint !== 'token').length;
      const base = expiredBefore();
      const storm: string[] = [];
      const tokenFault: string[] = [];
      await w.play(h, 4, async (i) => {
        await callsSeen(w);
        if (i === 0) w.mde.expireTokens();
        if (i === 1) storm.push(w.mde.faults({ type: 'unauthorized', calls: 1 }));
        if (i === 2) {
          w.mde.expireTokens();
          tokenFault.push(w.mde.faults({ type: 'status', status: 503, endpoints: ['token'], calls: 1 }));
        }
      });
      return finish(w, h, () => [
        { name: 'expired token (401)', answered: expiredBefore() - base },
        { name: '401 storm (1 call)', answered: faultHits(w, storm) },
        { name: 'token endpoint 503', answered: faultHits(w, tokenFault) },
      ], { timeoutMs: 300_000 });
    },
  },
  {
    name: 'opencti-drops',
    ci: false,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      await boot(w);
      let dropped = 0;
      await w.play(h, 4, async () => {
        const deadline = Date.now() + 30_000;
        while (w.octi.connectionCount() === 0 && Date.now() < deadline) await sleep(100);
        await sleep(300);
        dropped += w.octi.dropConnections();
      });
      return finish(w, h, () => [{ name: 'OpenCTI connection dropped', answered: dropped }]);
    },
  },
  {
    name: 'two-writers-one-killed',
    ci: false,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      const [a] = await boot(w, 2);
      let kills = 0;
      await w.play(h, 3, async (i) => {
        if (i === 0 && (await killAfterAnswer(w, () => (a!.running ? a : undefined)))) kills += 1;
      });
      return finish(w, h, () => [{ name: 'kill -9 of one of two writers', answered: kills }]);
    },
  },
  {
    name: 'two-writers-one-host',
    ci: false,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      const ws = await boot(w, 2, { hostname: 'shared-host' });
      // The collision is exercised when both writers hold partitions at once.
      let together = 0;
      await w.play(h, 3, async () => {
        await callsSeen(w);
        if ((await Promise.all(ws.map((x) => gauge(x, 'octi_writer_assigned_partitions')))).every((n) => n > 0)) together += 1;
      });
      const fenced = w.processes.reduce((n, p) => n + (p.tail(400).match(/fenced/gi)?.length ?? 0), 0);
      return finish(w, h, () => [{ name: 'both writers on one host name holding partitions', answered: together }], { notes: [`log lines about fencing: ${fenced}`] });
    },
  },
  {
    name: 'rbac-change',
    ci: false,
    writerEnv: { MICROSOFT_DEFENDER_INTEL_RBAC_GROUP_NAMES: '["Tier0"]' },
    async run(w, size) {
      const h = buildHistory({ entities: size });
      const [writer] = await boot(w);
      const half = Math.floor(h.steps.length / 2);
      w.append(h.steps.slice(0, half));
      await w.quiesce();
      await writer!.redeploy({ MICROSOFT_DEFENDER_INTEL_RBAC_GROUP_NAMES: '["Tier0","Servers"]' });
      w.append(h.steps.slice(half));
      const regrouped = (): number => w.mde.requests('import').filter((r) => r.status === 200 && JSON.stringify(r.body).includes('"Servers"')).length;
      return finish(w, h, () => [{ name: 'imports with the new device groups', answered: regrouped() }], { rbacGroupNames: ['Servers', 'Tier0'] });
    },
  },
  {
    name: 'foreign-overlap',
    ci: false,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      // Another application's manual Block on values OpenCTI will assert (Block too), then retract.
      const overlap = ['8.26.56.26', '8.26.56.27'];
      w.seedForeign(overlap);
      await boot(w);
      w.append(h.steps);
      await w.quiesce();
      const from = h.steps.length;
      const ours = overlap.map((v) => h.more.create('IpAddress', { value: v, score: 90, tlp: 'TLP:GREEN' }));
      w.append(h.steps.slice(from));
      await w.quiesce();
      const next = h.steps.length;
      for (const e of ours) h.more.remove(e);
      w.append(h.steps.slice(next));
      const out = await finish(w, h, () => []);
      const commands = await w.kafka.readCompacted(w.topics.commands);
      return { ...out, faults: [{ name: 'overlapping values on the commands topic', answered: overlap.filter((v) => commands.has(`IpAddress:${v}`)).length }] };
    },
  },
  {
    name: 'real-quota',
    ci: false,
    // Defender's real limits in real time (the writer's quota clock cannot be scaled from outside
    // its process): the documented quotas on both sides, catch-up off and small fetches, and changes
    // arriving for longer than a minute, so the writer needs more imports than one minute allows
    // (it coalesces what is pending into one import per even spacing of the quota, 2 s).
    defender: { rateLimits: true },
    writerEnv: {
      DEFENDER_QUOTA_IMPORT_PER_MINUTE: '30',
      DEFENDER_QUOTA_BATCH_DELETE_PER_MINUTE: '30',
      DEFENDER_QUOTA_BATCH_DELETE_PER_HOUR: '1500',
      DEFENDER_QUOTA_LIST_PER_MINUTE: '100',
      DEFENDER_QUOTA_LIST_PER_HOUR: '1500',
      WRITER_CATCH_UP_LAG: '0',
      WRITER_FETCH_BYTES_PER_PARTITION: '16384',
    },
    async run(w, size) {
      const h = buildHistory({ entities: size });
      w.seedForeign(FOREIGN_VALUES);
      await w.listener().start();
      // The writer starts behind the stream: half the history is already on the commands topic.
      // Trickled in, so that the listener's transactions and the writer's fetches stay small; the
      // second half over 75 s, so that the writer has changes to send for more than a minute (the
      // quota binds).
      const half = Math.floor(h.steps.length / 2);
      await w.trickle(h.steps.slice(0, half), 10, 30);
      const writer = w.writer();
      await writer.start();
      await w.trickle(h.steps.slice(half), 10, Math.max(30, Math.ceil((75_000 * 10) / Math.max(1, h.steps.length - half))));
      const out = await finish(w, h, () => [], { timeoutMs: 600_000 });
      const times = w.mde.requests('import').filter((r) => r.clientId === CLIENT_ID && r.status !== 0).map((r) => Date.parse(r.time)).sort((a, b) => a - b);
      const minuteMs = 60_000;
      let peak = 0;
      for (let i = 0, j = 0; i < times.length; i++) {
        while (times[i]! - times[j]! >= minuteMs) j++;
        peak = Math.max(peak, i - j + 1);
      }
      const refused = w.mde.requests('import').filter((r) => r.status === 429).length;
      // The writer sends at the quota's even pace (an import every 2 s: at most 30 a minute, fewer
      // by the time each send takes to start), so a minute at the quota holds 25 or more.
      return {
        ...out,
        faults: [{ name: 'a minute at the 30-import quota', answered: peak >= 25 ? 1 : 0 }],
        notes: [...out.notes, `import calls ${times.length}, peak ${peak} in a minute, ${refused} answered 429`],
      };
    },
  },
];
