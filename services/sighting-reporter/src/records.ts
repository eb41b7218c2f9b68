// The reporter's durable state in its compacted topic: the polling position (key `position`) and one
// record per (indicator, where, day) with its distinct alert ids (key `sighting|…`). Both are written
// only after OpenCTI holds what they say, so a crash replays, never skips.
import type { SightingRecord, WrittenSighting } from './aggregate.ts';

export const POSITION_KEY = 'position';

export interface Position {
  /** Alerts last updated at or after this time (less the overlap) are read on the next poll. */
  readonly lastUpdateTime: string;
  readonly updatedAt: string;
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isTime = (v: unknown): v is string => isStr(v) && !Number.isNaN(Date.parse(v));
const isStrArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isStr);

export function encodePosition(p: Position): Buffer {
  return Buffer.from(JSON.stringify(p));
}

export function decodePosition(value: Buffer | null | undefined): Position | undefined {
  if (!value) return undefined;
  try {
    const p = JSON.parse(value.toString('utf8')) as Partial<Position>;
    return isTime(p.lastUpdateTime) ? { lastUpdateTime: p.lastUpdateTime, updatedAt: isStr(p.updatedAt) ? p.updatedAt : '' } : undefined;
  } catch {
    return undefined;
  }
}

export function encodeRecord(r: SightingRecord): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, ...r }));
}

function decodeWritten(w: unknown): WrittenSighting | undefined {
  const o = w as Partial<WrittenSighting> | null | undefined;
  if (!o || !isStr(o.id) || typeof o.count !== 'number' || !isTime(o.firstSeen) || !isTime(o.lastSeen) || !isStr(o.description)) return undefined;
  return { id: o.id, count: o.count, firstSeen: o.firstSeen, lastSeen: o.lastSeen, description: o.description };
}

/** A record read back; undefined when the value is not one (it is then rebuilt from the alerts). */
export function decodeRecord(value: Buffer | null | undefined): SightingRecord | undefined {
  if (!value) return undefined;
  try {
    const r = JSON.parse(value.toString('utf8')) as Partial<SightingRecord> & { v?: unknown };
    if (r.v !== 1 || !isStr(r.indicatorId) || !isStr(r.whereId) || !isStr(r.day) || !/^\d{4}-\d{2}-\d{2}$/.test(r.day)) return undefined;
    if (!isStrArray(r.alertIds) || !isTime(r.firstSeen) || !isTime(r.lastSeen) || !isStrArray(r.devices)) return undefined;
    return {
      indicatorId: r.indicatorId,
      whereId: r.whereId,
      day: r.day,
      alertIds: [...new Set(r.alertIds)].sort(),
      firstSeen: r.firstSeen,
      lastSeen: r.lastSeen,
      devices: r.devices,
      moreDevices: r.moreDevices === true,
      written: decodeWritten(r.written),
      refused: isStr(r.refused) ? r.refused : undefined,
    };
  } catch {
    return undefined;
  }
}
