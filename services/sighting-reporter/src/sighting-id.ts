// Deterministic STIX ids of sightings, computed as pycti's StixSightingRelationship.generate_id does:
// uuid5 in OpenCTI's namespace of the RFC 8785 canonical JSON of {type, sighting_of_ref,
// where_sighted_refs, first_seen, last_seen}. The same (indicator, where, day) always gives the same
// id, so a create repeated after a crash upserts the sighting instead of adding a second one.
import { uuid5 } from '@octi-defender/indicators';

/** OpenCTI's uuid5 namespace for generated STIX ids (pycti and opencti-graphql). */
const OPENCTI_NAMESPACE = '00abedb4-aa42-466c-9c01-fed23315a9b7';

/**
 * RFC 8785 (JCS) canonical form of JSON made of strings, arrays and plain objects: keys sorted by
 * UTF-16 code units, no whitespace, strings as JSON.stringify writes them (which JCS shares).
 */
export function canonicalize(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalize).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalize(v)}`).join(',')}}`;
  }
  throw new TypeError(`canonicalize takes strings, arrays and objects, got ${typeof value}`);
}

/** pycti's `StixSightingRelationship.generate_id(sighting_of_ref, where_sighted_refs, first_seen, last_seen)`. */
export function sightingStixId(sightingOf: string, whereSighted: readonly string[], firstSeen?: string, lastSeen?: string): string {
  const data: Record<string, unknown> = { type: 'sighting', sighting_of_ref: sightingOf, where_sighted_refs: [...whereSighted] };
  if (firstSeen !== undefined) {
    data.first_seen = firstSeen;
    if (lastSeen !== undefined) data.last_seen = lastSeen;
  }
  return `sighting--${uuid5(OPENCTI_NAMESPACE, canonicalize(data))}`;
}

/** The UTC bounds of a day (`YYYY-MM-DD`) in OpenCTI's date form (milliseconds, Z). */
export function dayBounds(day: string): { start: string; end: string } {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(`${day}T00:00:00.000Z`))) throw new RangeError(`not a day: ${day}`);
  return { start: `${day}T00:00:00.000Z`, end: `${day}T23:59:59.999Z` };
}

/**
 * The id of the one sighting of `indicatorId` at `whereId` on `day`: pycti's id with the day's
 * bounds as first/last seen (the sighting's own first_seen/last_seen move as alerts arrive; its id
 * must not).
 */
export function daySightingId(indicatorId: string, whereId: string, day: string): string {
  const { start, end } = dayBounds(day);
  return sightingStixId(indicatorId, [whereId], start, end);
}
