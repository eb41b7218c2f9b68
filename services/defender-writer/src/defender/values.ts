// The form in which two spellings of one indicator value compare equal. Defender may answer with a
// value spelled otherwise than sent or stored by its creator (case; a URL's trailing slash; an IP
// or hash written another way): undocumented, so matching is deliberately tolerant. It is used to
// pair import results with what was sent and to recognise a value another creator holds; holding a
// key back because of a loose match is the safe error, importing over another's indicator is not.
import { canonicalizeValue, DEFENDER_INDICATOR_TYPES, type DefenderIndicatorType } from '@octi-defender/indicators';

const TYPES: ReadonlySet<string> = new Set(DEFENDER_INDICATOR_TYPES);

/** `<type>:<value>` with the value canonical (when it parses), lower-case, and a URL's trailing slashes removed. */
export function comparableKey(type: string, value: string): string {
  const c = TYPES.has(type) ? canonicalizeValue(type as DefenderIndicatorType, value) : undefined;
  return comparableCanonical(type, c?.ok ? c.value : value.trim());
}

/** `comparableKey` of a value already canonical (an indicator key's value): no parsing on the hot path. */
export function comparableCanonical(type: string, canonical: string): string {
  const v = canonical.toLowerCase();
  return `${type}:${type === 'Url' ? v.replace(/\/+$/, '') : v}`;
}
