// Scenarios of a shared Defender tenant and of scaling: other creators hold indicators (an
// application crowding the tenant's limit, an analyst adding by hand while the stream flows), writers
// join and leave as the autoscaler makes them, the active listener dies with a standby waiting, and
// two tenants are served side by side.
import { setTimeout as sleep } from 'node:timers/promises';
import { buildHistory, type History, type Step } from './history.ts';
import { boot, callsSeen, faultHits, finish, FOREIGN_VALUES, gauge, type FaultCount, type Outcome, type Scenario } from './scenarios.ts';
import type { Supervised } from './supervisor.ts';
import { foreignWindow } from './window.ts';
import { CLIENT_ID, LISTENER_LEASE_MS, type Figures, type Tenant, type World } from './world.ts';

/** The crowded tenant, per entity of the history: at the default size (2,000) Defender's limit is
 *  1,500, another application holds 600 and removes 200 of them in the second phase. */
const CROWD = { limit: 0.75, foreign: 0.3, removed: 0.1, budget: 0.35 } as const;
const CAP_REFUSAL = 'reached its limit';
/** How much longer than the lease a standby may take to become active. */
const TAKEOVER_MARGIN_MS = 4000;
const OUTAGE_MS = 30_000;
/**
 * How long before the stream asserts a value the analyst adds it. The writer learns of other
 * creators' additions before its imports within a bounded window (its README gives the worst case);
 * this must exceed that window, or the scenario asks more than the writer promises.
 */
const ANALYST_LEAD_MS = 5000;

const crowd = (size: number, share: number): number => Math.round(size * share);

/** Figures of several comparisons added up (examples kept from each). */
function sum(figures: readonly Figures[]): Figures {
  const total: Figures = { missing: 0, unexpected: 0, duplicated: 0, foreignTouched: 0, expected: 0, held: 0, examples: [] };
  for (const f of figures) {
    total.missing += f.missing;
    total.unexpected += f.unexpected;
    total.duplicated += f.duplicated;
    total.foreignTouched += f.foreignTouched;
    total.expected += f.expected;
    total.held += f.held;
    total.examples.push(...f.examples);
  }
  return total;
}

const summary = (label: string, f: Figures): string => `${label}: expected ${f.expected}, ours held ${f.held}, ${f.missing} / ${f.unexpected} / ${f.duplicated} / ${f.foreignTouched}`;

/** The first `n` steps, as a history the oracle reads. */
const prefix = (h: History, n: number): History => ({ ...h, steps: h.steps.slice(0, n) });

/** Milliseconds until `tenant` holds exactly what the oracle expects of `h`, or undefined after `timeoutMs`. */
async function timeToExact(w: World, h: History, tenant: Tenant, since: number, timeoutMs: number): Promise<number | undefined> {
  const deadline = since + timeoutMs;
  while (Date.now() < deadline) {
    const f = w.check(h, { tenant });
    if (f.missing === 0 && f.unexpected === 0) return Date.now() - since;
    await sleep(200);
  }
  return undefined;
}

/**
 * The crowded tenant: Defender for Cloud Apps' unsanctioned apps already there (domain indicators of
 * another application), a listener and a writer with `budget` as MAX_INDICATORS and a reconciliation
 * every 5 s, the history appended a millisecond per step (the room's order). Resolves to the history.
 */
async function crowdedTenant(w: World, size: number, budget: number): Promise<History> {
  const h = buildHistory({ entities: size });
  const apps = Array.from({ length: crowd(size, CROWD.foreign) }, (_, i) => `unsanctioned-app-${i}.com`);
  w.seedForeign(apps, 'Block', {
    fields: {
      indicatorType: 'DomainName',
      title: 'Unsanctioned app',
      description: 'Blocked by Microsoft Defender for Cloud Apps',
      application: 'Microsoft Defender for Cloud Apps',
      generateAlert: false,
      severity: 'Informational',
    },
  });
  await boot(w, 1, { env: { MICROSOFT_DEFENDER_INTEL_MAX_INDICATORS: String(budget), WRITER_RECONCILE_INTERVAL_MS: '5000' } });
  await w.appendSpaced(h.steps);
  return h;
}

/** Whether an import body carries an indicator of that type and value. */
function importsKey(body: unknown, type: string, value: string): boolean {
  const items = (body as { Indicators?: { indicatorType?: unknown; indicatorValue?: unknown }[] } | undefined)?.Indicators ?? [];
  return items.some((i) => i.indicatorType === type && i.indicatorValue === value);
}

/** Our import items Defender refused because the tenant was at its limit. */
function capRefusals(w: World): number {
  return w.mde.requests('import').filter((r) => r.clientId === CLIENT_ID).reduce((n, r) => n + (r.failures ?? []).filter((f) => f.includes(CAP_REFUSAL)).length, 0);
}

export const SHARED_TENANT: Scenario[] = [
  {
    name: 'crowded-tenant',
    ci: true,
    defender: (size) => ({ cap: crowd(size, CROWD.limit) }),
    async run(w, size) {
      // The writer's budget set to the tenant's limit, as a user sets it: the room is what others leave.
      const limit = crowd(size, CROWD.limit);
      const h = await crowdedTenant(w, size, limit);
      // Phase 1: what the other application leaves.
      const room1 = limit - w.foreign.length;
      const quiet1 = await w.quiesce({ timeoutMs: 180_000 });
      const phase1 = w.check(h, { room: room1 });
      const notes = [`limit ${limit}, other creators ${w.foreign.length}, room ${room1}, keys wanting in ${w.check(h).expected}`, summary('phase 1', phase1)];
      if (!quiet1) return { quiescent: false, figures: phase1, faults: [{ name: 'cap refusals', answered: capRefusals(w) }], notes };
      // Phase 2: the other application removes some of its indicators; ours fill the room.
      await w.removeForeign(crowd(size, CROWD.removed));
      const removed = Date.now();
      const room2 = limit - w.foreign.length;
      // The writer learns at its next listing (every 5 s): quiet before it proves nothing.
      const listed = Date.now() + 60_000;
      while (Date.now() < listed && !w.mde.requests('list').some((r) => r.clientId === CLIENT_ID && Date.parse(r.time) > removed)) await sleep(200);
      const out = await finish(w, h, () => [], { notes });
      const phase2 = w.check(h, { room: room2 });
      const grown = w.mde.indicators().filter((i) => i.createdBy === CLIENT_ID).length - phase1.held;
      return {
        ...out,
        figures: sum([phase1, phase2]),
        faults: [{ name: 'cap refusals', answered: capRefusals(w) }, { name: 'room freed, taken by ours', answered: Math.max(0, grown) }],
        notes: [...notes, `room ${room2} after the other application removed ${crowd(size, CROWD.removed)}`, summary('phase 2', phase2)],
      };
    },
  },
  {
    name: 'tenant-budget',
    ci: false,
    defender: (size) => ({ cap: crowd(size, CROWD.limit) }),
    async run(w, size) {
      // The same crowded tenant with the writer's budget below what the others leave: the budget is
      // the room, the writer's own cap binds and Defender never refuses.
      const budget = crowd(size, CROWD.budget);
      const h = await crowdedTenant(w, size, budget);
      const wanting = w.check(h).expected;
      const out = await finish(w, h, () => [], { notes: [`limit ${crowd(size, CROWD.limit)}, other creators ${w.foreign.length}, budget ${budget}, keys wanting in ${wanting}`] });
      const judged = { ...out, figures: w.check(h, { room: budget }), faults: [{ name: 'keys wanting in beyond the budget', answered: Math.max(0, wanting - budget) }] };
      // Under its budget the writer never reaches Defender's limit.
      const refused = capRefusals(w);
      return refused > 0 ? { ...judged, failed: `${refused} cap refusals under a budget below the room` } : judged;
    },
  },
  {
    name: 'analyst-adds',
    ci: false,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      await boot(w);
      const listed = w.mde.requests('list').filter((r) => r.clientId === CLIENT_ID && r.status === 200).length;
      if (listed === 0) throw new Error('the writer was ready without having listed Defender');
      const half = Math.floor(h.steps.length / 2);
      w.append(h.steps.slice(0, half));
      await callsSeen(w);
      // Values the stream asserts later (score 90: Block; 15: Warn), an analyst adds them by hand first:
      // with our action for some, another action for the others.
      const from = h.steps.length;
      const cases = [
        { type: 'IpAddress', score: 90, analyst: 'Block' },
        { type: 'DomainName', score: 90, analyst: 'Block' },
        { type: 'Url', score: 90, analyst: 'Block' },
        { type: 'IpAddress', score: 15, analyst: 'Warn' },
        { type: 'IpAddress', score: 90, analyst: 'Allowed' },
        { type: 'DomainName', score: 90, analyst: 'Audit' },
        { type: 'Url', score: 15, analyst: 'Block' },
        { type: 'IpAddress', score: 45, analyst: 'Block' },
      ] as const;
      const asserted = cases.map((c) => h.more.create(c.type, { score: c.score, tlp: 'TLP:GREEN' }));
      const expires = new Date(Date.now() + 30 * 86_400_000).toISOString();
      cases.forEach((c, i) => {
        w.seedForeign([asserted[i]!.facts.value], c.analyst, {
          creator: { clientId: 'analyst@contoso.example', displayName: 'Jane Analyst' },
          fields: {
            indicatorType: c.type,
            title: `Hand-made ${c.analyst} ${i}`,
            description: 'Added by the SOC during incident INC-4711',
            expirationTime: expires,
            externalID: `INC-4711-${i}`,
            severity: 'Medium',
            application: null,
            generateAlert: true,
            recommendedActions: 'Escalate to tier 2',
          },
        });
      });
      const added = Date.now();
      await sleep(ANALYST_LEAD_MS);
      w.append([...h.steps.slice(half, from), ...h.steps.slice(from)]);
      const out = await finish(w, h, () => []);
      // Held back means never imported: an import of ours on an analyst's value + type after they were
      // added rewrote theirs (same action) or made a second one (another action), however briefly.
      const imported = asserted.filter((e) => w.mde.requests('import').some((r) => r.clientId === CLIENT_ID && Date.parse(r.time) > added && importsKey(r.body, e.facts.type!, e.facts.value)));
      // Answered: the stream asserted the analyst's values after the writer's last listing before them.
      const commands = await w.kafka.readCompacted(w.topics.commands);
      const onTopic = asserted.filter((e) => commands.has(`${e.facts.type}:${e.facts.value}`)).length;
      const listingsBefore = w.mde.requests('list').filter((r) => r.clientId === CLIENT_ID && Date.parse(r.time) < added).length;
      const figures = {
        ...out.figures,
        unexpected: out.figures.unexpected + imported.length,
        examples: [...imported.map((e) => `imported over the analyst's ${e.facts.type}|${e.facts.value}`), ...out.figures.examples],
      };
      const window = foreignWindow(w.mde.requests(), CLIENT_ID);
      const notes = [
        ...out.notes,
        `${cases.length} analyst indicators added after ${listingsBefore} listing(s) of the writer, ${ANALYST_LEAD_MS} ms before the stream asserts them; ${imported.length} imported by us`,
        `window left: at most ${window.worstMs} ms between a look and an import (${window.imports} imports, ${window.looks} looks, ${window.listings} listings)`,
      ];
      return { ...out, figures, faults: [{ name: 'analyst values asserted by the stream after the writer listed', answered: listingsBefore > 0 ? onTopic : 0 }], notes };
    },
  },
  {
    name: 'scale-out-in',
    ci: false,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      await boot(w);
      // Defender slower than the stream while the autoscaler acts: the lag it scales on.
      const slow = w.mde.faults({ type: 'latency', latencyMs: 1000, endpoints: ['import'] });
      const parts = 3;
      const per = Math.ceil(h.steps.length / parts);
      const part = (i: number): readonly Step[] => h.steps.slice(i * per, (i + 1) * per);
      let joinedBehind = 0;
      let leftMidStream = 0;
      const notes: string[] = [];
      for (let round = 0; round < 2; round++) {
        // A part trickles in over about 20 s: the two writers join and leave while it flows.
        const steps = part(round);
        let flowing = true;
        const streaming = w.trickle(steps, Math.max(1, Math.ceil(steps.length / 200)), 100).then(() => {
          flowing = false;
        });
        await callsSeen(w);
        const extra = [w.writer(), w.writer()];
        await Promise.all(extra.map((x) => x.start()));
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline && (await Promise.all(extra.map((x) => gauge(x, 'octi_writer_assigned_partitions')))).some((n) => n === 0)) await sleep(200);
        const behind = (await w.writerBehind()).behind;
        if (behind > 0n) joinedBehind += 1;
        notes.push(`round ${round + 1}: 2 writers joined with ${behind} commands behind`);
        await sleep(3000);
        await Promise.all(extra.map(async (x) => {
          const t0 = Date.now();
          const during = flowing;
          await x.stop();
          if (x.lastExit?.signal === null && during) leftMidStream += 1;
          notes.push(`${x.spec.name} left by SIGTERM ${during ? 'mid-stream' : 'after the stream'} in ${Date.now() - t0} ms (exit ${x.lastExit?.code ?? x.lastExit?.signal})`);
        }));
        await streaming;
      }
      w.mde.clearFaults();
      w.append(part(2));
      return finish(w, h, () => [
        { name: 'rounds where 2 writers joined with commands behind', answered: joinedBehind },
        { name: 'writers that left by SIGTERM mid-stream, not killed', answered: leftMidStream },
        { name: 'slow imports', answered: faultHits(w, [slow]) },
      ], { notes });
    },
  },
  {
    name: 'listener-failover',
    ci: false,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      w.seedForeign(FOREIGN_VALUES);
      const writer = w.writer();
      const listeners = [w.listener('listener-a'), w.listener('listener-b')];
      await Promise.all([writer, ...listeners].map((p) => p.start()));
      await Promise.all([writer, ...listeners].map((p) => p.waitReady()));
      // The one active listener, once the group has settled (the same for 3 polls a second apart).
      const activeOne = async (): Promise<Supervised | undefined> => {
        const a = await Promise.all(listeners.map((l) => gauge(l, 'octi_listener_active')));
        return a.filter((x) => x === 1).length === 1 ? listeners[a.indexOf(1)] : undefined;
      };
      const half = Math.floor(h.steps.length / 2);
      // Mid-stream: the kill lands while the first half still trickles in (about 20 s).
      const streaming = w.trickle(h.steps.slice(0, half), Math.max(1, Math.ceil(half / 200)), 100);
      await callsSeen(w);
      let active: Supervised | undefined;
      for (let same = 0, deadline = Date.now() + 30_000; same < 3 && Date.now() < deadline; await sleep(1000)) {
        const now = await activeOne();
        same = now !== undefined && now === active ? same + 1 : 1;
        active = now;
      }
      if (!active) throw new Error('no single active listener among two');
      const standby = listeners.find((l) => l !== active)!;
      // The active listener's node is lost: nothing restarts it; the standby must take the lease.
      await active.kill9({ restart: false });
      const killed = Date.now();
      let takeover: number | undefined;
      while (takeover === undefined && Date.now() - killed < 60_000) {
        if ((await gauge(standby, 'octi_listener_active')) === 1) takeover = Date.now() - killed;
        else await sleep(100);
      }
      const stillStreaming = w.octi.lastEventId() !== undefined && !(await Promise.race([streaming.then(() => true), sleep(0).then(() => false)]));
      await streaming;
      // The Deployment recreates the lost pod elsewhere: it joins as a standby (or takes the lease
      // over once more, a short failover without loss).
      await active.start();
      w.append(h.steps.slice(half));
      const notes = [
        `${active.spec.name} killed -9 (node lost) ${stillStreaming ? 'mid-stream' : 'after the stream'}; ${standby.spec.name} active after ${
          takeover ?? 'more than 60,000'
        } ms (lease ${LISTENER_LEASE_MS} ms)`,
      ];
      const out = await finish(w, h, () => [{ name: 'kill -9 of the active listener mid-stream, standby took over', answered: takeover !== undefined && stillStreaming ? 1 : 0 }], { notes });
      const bound = LISTENER_LEASE_MS + TAKEOVER_MARGIN_MS;
      return takeover !== undefined && takeover > bound ? { ...out, failed: `takeover ${takeover} ms > ${bound} ms` } : out;
    },
  },
  {
    name: 'two-tenants',
    ci: false,
    async run(w, size) {
      const h = buildHistory({ entities: size });
      const [a, b] = [w.tenants[0]!, await w.addTenant('fabrikam')];
      w.seedForeign(FOREIGN_VALUES, 'Block', { tenant: b });
      const writerB = w.writer({ tenant: b });
      await writerB.start();
      await boot(w);
      await writerB.waitReady();
      // Baseline: the first half, no fault; each tenant's time to hold exactly what it asks for.
      const half = Math.floor(h.steps.length / 2);
      let since = Date.now();
      w.append(h.steps.slice(0, half));
      const [baseA, baseB] = await Promise.all([a, b].map((t) => timeToExact(w, prefix(h, half), t, since, 120_000)));
      await w.quiesce();
      // The second half while tenant b's Defender answers 503 to everything for OUTAGE_MS.
      const outage = b.mde.faults({ type: 'status', status: 503, endpoints: ['import', 'batchDelete', 'list'], durationMs: OUTAGE_MS });
      since = Date.now();
      w.append(h.steps.slice(half));
      const [duringA, duringB] = await Promise.all([a, b].map((t) => timeToExact(w, h, t, since, 180_000)));
      const quiescent = await w.quiesce();
      const [fa, fb] = [a, b].map((t) => w.check(h, { tenant: t }));
      const ms = (x: number | undefined): string => (x === undefined ? 'never' : `${x} ms`);
      const notes = [
        summary(a.name, fa!),
        summary(b.name, fb!),
        `baseline: ${a.name} ${ms(baseA)}, ${b.name} ${ms(baseB)}; with ${b.name}'s ${OUTAGE_MS} ms outage: ${a.name} ${ms(duringA)}, ${b.name} ${ms(duringB)}`,
      ];
      const faults: FaultCount[] = [{ name: `503 on ${b.name}'s Defender for ${OUTAGE_MS / 1000} s`, answered: faultHits(b, [outage]) }];
      const out: Outcome = { quiescent, figures: sum([fa!, fb!]), faults, notes };
      if (duringA === undefined || duringA >= OUTAGE_MS) return { ...out, failed: `${a.name} waited for ${b.name}'s outage (${ms(duringA)})` };
      return out;
    },
  },
];
