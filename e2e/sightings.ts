// The sightings scenario's oracle and comparison: which OpenCTI sightings the alerts raised in
// Defender must produce, from the alerts and Defender's indicators alone (plain rules, no import of
// the reporter's code), and how OpenCTI's sightings compare with them.
import type { DefenderEmulator, Indicator, OpenCtiEmulator } from '@octi-defender/emulators';

/** Indicator types an alert's evidence names (file evidence carries SHA-1 and SHA-256, not MD5 or thumbprints). */
export const MATCHABLE = new Set(['IpAddress', 'DomainName', 'Url', 'FileSha1', 'FileSha256']);

export interface RaisedAlert {
  readonly alertId: string;
  /** UTC day of the alert's first event. */
  readonly day: string;
  readonly indicatorType: string;
  readonly indicatorValue: string;
}

export interface SightingFigures {
  missing: number;
  unexpected: number;
  duplicated: number;
  wrongCount: number;
  expected: number;
  held: number;
  examples: string[];
}

const parents = (host: string): string[] => {
  const labels = host.toLowerCase().split('.');
  return labels.slice(0, -1).map((_, i) => labels.slice(i).join('.'));
};
const urlKey = (u: string): string => u.toLowerCase().replace(/\/+$/, '');

/** The OpenCTI ids (our indicators' externalID) an alert on `type`/`value` sights. */
export function sightedBy(alert: RaisedAlert, ours: readonly Indicator[]): string[] {
  const ids = new Set<string>();
  const add = (pred: (i: Indicator) => boolean): void => {
    for (const i of ours) if (pred(i) && i.externalID) ids.add(i.externalID);
  };
  const v = alert.indicatorValue;
  switch (alert.indicatorType) {
    case 'Url': {
      const host = new URL(v).hostname;
      add((i) => i.indicatorType === 'Url' && urlKey(i.indicatorValue) === urlKey(v));
      add((i) => i.indicatorType === 'DomainName' && parents(host).includes(i.indicatorValue.toLowerCase()));
      add((i) => i.indicatorType === 'IpAddress' && i.indicatorValue === host);
      break;
    }
    case 'DomainName':
      add((i) => i.indicatorType === 'DomainName' && parents(v).includes(i.indicatorValue.toLowerCase()));
      break;
    case 'IpAddress':
    case 'FileSha1':
    case 'FileSha256':
      add((i) => i.indicatorType === alert.indicatorType && i.indicatorValue.toLowerCase() === v.toLowerCase());
      break;
    default:
      break;
  }
  return [...ids];
}

/** (OpenCTI id, day) → distinct alert ids. */
export function expectedSightings(alerts: readonly RaisedAlert[], ours: readonly Indicator[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const a of alerts) {
    for (const id of sightedBy(a, ours)) {
      const k = `${id}|${a.day}`;
      out.set(k, (out.get(k) ?? new Set()).add(a.alertId));
    }
  }
  return out;
}

/** OpenCTI's sightings against the expected ones: one per (indicator, where, day), count = distinct alerts. */
export function compareSightings(octi: OpenCtiEmulator, expected: ReadonlyMap<string, ReadonlySet<string>>, whereName: string): SightingFigures {
  const examples: string[] = [];
  const note = (s: string): void => {
    if (examples.length < 8) examples.push(s);
  };
  const where = octi.identities().filter((i) => i.name === whereName);
  const sightings = octi.sightings();
  const held = new Map<string, typeof sightings>();
  let unexpected = 0;
  for (const s of sightings) {
    if (where.length !== 1 || s.to.id !== where[0]!.id) {
      unexpected += 1;
      note(`sighting ${s.id} not at the identity "${whereName}" (${where.length} such identities)`);
      continue;
    }
    const k = `${s.from.id}|${s.first_seen.slice(0, 10)}`;
    held.set(k, [...(held.get(k) ?? []), s]);
  }
  let missing = 0;
  let wrongCount = 0;
  let duplicated = 0;
  for (const [k, ids] of expected) {
    const got = held.get(k) ?? [];
    if (got.length === 0) {
      missing += 1;
      note(`missing sighting ${k} (${ids.size} alerts)`);
    } else if (got[0]!.attribute_count !== ids.size) {
      wrongCount += 1;
      note(`sighting ${k}: count ${got[0]!.attribute_count}, expected ${ids.size}`);
    }
  }
  for (const [k, got] of held) {
    if (got.length > 1) {
      duplicated += 1;
      note(`sighting ${k} ×${got.length}`);
    }
    if (!expected.has(k)) {
      unexpected += 1;
      note(`unexpected sighting ${k} (count ${got[0]!.attribute_count})`);
    }
  }
  return { missing, unexpected, duplicated, wrongCount, expected: expected.size, held: sightings.length, examples };
}

/** Raises `perIndicator(i)` alerts on each indicator, first events on `days` days (today first). */
export function raiseAlerts(mde: DefenderEmulator, indicators: readonly Indicator[], perIndicator: (i: number) => number, now: number): RaisedAlert[] {
  const raised: RaisedAlert[] = [];
  indicators.forEach((ind, i) => {
    for (let n = 0; n < perIndicator(i); n++) {
      // Alternating today and yesterday (UTC), on a handful of devices.
      const eventTime = now - ((i + n) % 2) * 86_400_000 - n * 60_000;
      const a = mde.raiseAlert({ indicatorId: ind.id, eventTime, computerDnsName: `pc-${(i + n) % 7}.e2e.local`, machineId: `m${(i + n) % 7}` });
      raised.push({ alertId: a.id, day: new Date(eventTime).toISOString().slice(0, 10), indicatorType: ind.indicatorType, indicatorValue: ind.indicatorValue });
    }
  });
  return raised;
}
