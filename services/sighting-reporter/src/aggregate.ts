// One sighting per (OpenCTI indicator, where sighted, UTC day), derived from the set of distinct
// Defender alert ids that matched the indicator that day. Folding an alert in is idempotent and
// commutative (set union, min and max), so re-reading alerts after a restart or an overlap of polling
// windows never changes a count twice: the count IS the size of the set.
import type { Alert } from './alert.ts';
import { daySightingId } from './sighting-id.ts';

/** Alert ids kept per record; alerts past it are counted in a metric, not in the sighting. */
export const MAX_ALERTS_PER_RECORD = 10_000;
/** Devices named in the description (the count covers all). */
export const MAX_DEVICES_LISTED = 20;

/** What was last written to OpenCTI for a record. */
export interface WrittenSighting {
  /** OpenCTI's internal id of the sighting. */
  readonly id: string;
  readonly count: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly description: string;
}

export interface SightingRecord {
  /** OpenCTI id of the sighted entity (the indicator's externalID in Defender). */
  readonly indicatorId: string;
  /** OpenCTI id of the identity standing for the tenant. */
  readonly whereId: string;
  /** UTC day of the alerts' first event, `YYYY-MM-DD`. */
  readonly day: string;
  /** Distinct alert ids, sorted. */
  readonly alertIds: readonly string[];
  readonly firstSeen: string;
  readonly lastSeen: string;
  /** Distinct device names (computerDnsName, else machineId), sorted, at most MAX_DEVICES_LISTED. */
  readonly devices: readonly string[];
  /** Devices beyond the listed ones. */
  readonly moreDevices: boolean;
  readonly written?: WrittenSighting | undefined;
  /** Set when OpenCTI refused the sighting for good (e.g. the indicator no longer exists). */
  readonly refused?: string | undefined;
}

export function recordKey(indicatorId: string, whereId: string, day: string): string {
  return `sighting|${indicatorId}|${whereId}|${day}`;
}

export function keyOf(r: Pick<SightingRecord, 'indicatorId' | 'whereId' | 'day'>): string {
  return recordKey(r.indicatorId, r.whereId, r.day);
}

function dayOf(iso: string): string {
  return new Date(Date.parse(iso)).toISOString().slice(0, 10);
}

const min = (a: string, b: string): string => (Date.parse(a) <= Date.parse(b) ? a : b);
const max = (a: string, b: string): string => (Date.parse(a) >= Date.parse(b) ? a : b);

function insertSorted(list: readonly string[], value: string): string[] | undefined {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((list[mid] as string) < value) lo = mid + 1;
    else hi = mid;
  }
  if (list[lo] === value) return undefined;
  return [...list.slice(0, lo), value, ...list.slice(lo)];
}

type FoldOutcome = 'new' | 'changed' | 'unchanged' | 'over_cap';

/**
 * `record` with `alert` folded in (a new record when undefined): the alert id joins the set, first
 * and last seen widen, the device joins the listed ones. 'unchanged' when the alert was already
 * counted and widened nothing; 'over_cap' when the set is full and the alert is new to it.
 */
export function foldAlert(record: SightingRecord | undefined, alert: Alert, indicatorId: string, whereId: string): { record: SightingRecord; outcome: FoldOutcome } {
  const device = alert.computerDnsName ?? alert.machineId;
  if (!record) {
    return {
      outcome: 'new',
      record: {
        indicatorId,
        whereId,
        day: dayOf(alert.firstEventTime),
        alertIds: [alert.id],
        firstSeen: alert.firstEventTime,
        lastSeen: alert.lastEventTime,
        devices: device === null ? [] : [device],
        moreDevices: false,
      },
    };
  }
  const ids = insertSorted(record.alertIds, alert.id);
  if (ids !== undefined && ids.length > MAX_ALERTS_PER_RECORD) return { record, outcome: 'over_cap' };
  let devices = record.devices;
  let moreDevices = record.moreDevices;
  if (device !== null) {
    const withDevice = insertSorted(devices, device);
    if (withDevice !== undefined) {
      if (withDevice.length <= MAX_DEVICES_LISTED) devices = withDevice;
      else moreDevices = true;
    }
  }
  const next: SightingRecord = {
    ...record,
    alertIds: ids ?? record.alertIds,
    firstSeen: min(record.firstSeen, alert.firstEventTime),
    lastSeen: max(record.lastSeen, alert.lastEventTime),
    devices,
    moreDevices,
  };
  const same = ids === undefined && next.firstSeen === record.firstSeen && next.lastSeen === record.lastSeen && devices === record.devices && moreDevices === record.moreDevices;
  return { record: same ? record : next, outcome: same ? 'unchanged' : 'changed' };
}

/** The sighting as it should read in OpenCTI. */
export interface DesiredSighting {
  readonly stixId: string;
  readonly fromId: string;
  readonly toId: string;
  readonly count: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
  readonly description: string;
}

export function describe(r: SightingRecord, tenantName: string): string {
  const n = r.alertIds.length;
  const devices = r.devices.length === 0 ? '' : ` Devices: ${r.devices.join(', ')}${r.moreDevices ? ' and others' : ''}.`;
  return `Microsoft Defender for Endpoint (${tenantName}): ${n} alert${n === 1 ? '' : 's'} raised by the custom indicator on ${r.day} (UTC).${devices}`;
}

export function desired(r: SightingRecord, tenantName: string): DesiredSighting {
  return {
    stixId: daySightingId(r.indicatorId, r.whereId, r.day),
    fromId: r.indicatorId,
    toId: r.whereId,
    count: r.alertIds.length,
    firstSeen: r.firstSeen,
    lastSeen: r.lastSeen,
    description: describe(r, tenantName),
  };
}

/** True when OpenCTI does not hold what the record says (never written, or written with other values). */
export function needsWrite(r: SightingRecord, tenantName: string): boolean {
  if (r.refused !== undefined) return false;
  const w = r.written;
  if (!w) return true;
  const d = desired(r, tenantName);
  return w.count !== d.count || w.firstSeen !== d.firstSeen || w.lastSeen !== d.lastSeen || w.description !== d.description;
}
