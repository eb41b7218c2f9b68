// One reading of everything the live view shows: each service's /metrics and /readyz and, when the
// emulators run, the Defender emulator's admin view of the indicators it holds and its call counters.
import { parseMetrics } from './prom.ts';
import type { Sample } from './prom.ts';

export interface Readiness {
  readonly ok: boolean;
  /** The failing checks with their details, or why /readyz did not answer. */
  readonly detail: string;
}

export interface ServiceReading {
  readonly samples: readonly Sample[];
  readonly ready: Readiness;
}

export interface DefenderHoldings {
  readonly total: number;
  readonly byType: Record<string, number>;
  readonly byAction: Record<string, number>;
}

export interface Reading {
  /** Milliseconds (monotonic). */
  readonly at: number;
  readonly listener: ServiceReading;
  readonly writer: ServiceReading;
  /** Only with the Defender emulator. */
  readonly defender?: DefenderHoldings;
  /** Only with `--sightings`. */
  readonly reporter?: ServiceReading;
  /** Only with `--sightings` and the OpenCTI emulator: the sightings it holds. */
  readonly sightings?: SightingHoldings;
}

export interface SightingHoldings {
  /** Sightings (one per indicator, tenant and day). */
  readonly total: number;
  /** Sum of their counts: the alerts they stand for. */
  readonly alerts: number;
  /** Distinct OpenCTI entities sighted. */
  readonly entities: number;
}

const TIMEOUT_MS = 2000;

async function getText(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  return { status: res.status, body: await res.text() };
}

async function readService(base: string): Promise<ServiceReading> {
  const [metrics, ready] = await Promise.allSettled([getText(`${base}/metrics`), getText(`${base}/readyz`)]);
  const samples = metrics.status === 'fulfilled' && metrics.value.status === 200 ? parseMetrics(metrics.value.body) : [];
  let readiness: Readiness;
  if (ready.status === 'rejected') readiness = { ok: false, detail: 'not answering yet' };
  else {
    try {
      const r = JSON.parse(ready.value.body) as { status: string; checks: Record<string, { ok: boolean; detail?: string }> };
      const failing = Object.entries(r.checks)
        .filter(([, c]) => !c.ok)
        .map(([name, c]) => (c.detail ? `${name}: ${c.detail}` : name));
      readiness = { ok: ready.value.status === 200, detail: failing.length > 0 ? failing.join('; ') : r.status };
    } catch {
      readiness = { ok: false, detail: `/readyz answered ${ready.value.status}` };
    }
  }
  return { samples, ready: readiness };
}

async function readDefender(base: string): Promise<DefenderHoldings | undefined> {
  try {
    const { status, body } = await getText(`${base}/_emulator/indicators`);
    if (status !== 200) return undefined;
    const list = JSON.parse(body) as { indicatorType: string; action: string }[];
    const byType: Record<string, number> = {};
    const byAction: Record<string, number> = {};
    for (const i of list) {
      byType[i.indicatorType] = (byType[i.indicatorType] ?? 0) + 1;
      byAction[i.action] = (byAction[i.action] ?? 0) + 1;
    }
    return { total: list.length, byType, byAction };
  } catch {
    return undefined;
  }
}

async function readSightings(base: string): Promise<SightingHoldings | undefined> {
  try {
    const { status, body } = await getText(`${base}/_emulator/sightings`);
    if (status !== 200) return undefined;
    const list = JSON.parse(body) as { attribute_count: number; from: { id: string } }[];
    return { total: list.length, alerts: list.reduce((n, x) => n + x.attribute_count, 0), entities: new Set(list.map((x) => x.from.id)).size };
  } catch {
    return undefined;
  }
}

export async function read(urls: { listener: string; writer: string; defenderEmulator?: string; reporter?: string; openctiEmulator?: string }): Promise<Reading> {
  const [listener, writer, defender, reporter, sightings] = await Promise.all([
    readService(urls.listener),
    readService(urls.writer),
    urls.defenderEmulator ? readDefender(urls.defenderEmulator) : Promise.resolve(undefined),
    urls.reporter ? readService(urls.reporter) : Promise.resolve(undefined),
    urls.reporter && urls.openctiEmulator ? readSightings(urls.openctiEmulator) : Promise.resolve(undefined),
  ]);
  return { at: performance.now(), listener, writer, ...(defender ? { defender } : {}), ...(reporter ? { reporter } : {}), ...(sightings ? { sightings } : {}) };
}
