// A subset of OpenCTI's FilterGroup evaluated against STIX objects, enough for stream collections
// such as "Indicator AND detection=true AND revoked=false AND pattern_type=stix".
import { OCTI_EXT, SCO_EXT } from './stix.ts';
import type { StixObject } from './stix.ts';

export interface Filter {
  key: string | string[];
  values: unknown[];
  operator?: 'eq' | 'not_eq' | 'gt' | 'gte' | 'lt' | 'lte' | 'nil' | 'not_nil';
  mode?: 'and' | 'or';
}
export interface FilterGroup {
  mode: 'and' | 'or';
  filters: Filter[];
  filterGroups: FilterGroup[];
}

const SCO_PARENTS = ['Stix-Cyber-Observable', 'Stix-Core-Object', 'Stix-Object'];
const SDO_PARENTS = ['Stix-Domain-Object', 'Stix-Core-Object', 'Stix-Object'];

function ext(stix: StixObject, name: string): Record<string, unknown> {
  const extensions = stix.extensions as Record<string, Record<string, unknown>> | undefined;
  return extensions?.[name] ?? {};
}

/** Like pycti's get_attribute_in_extension: OpenCTI extension, then SCO extension, then top level. */
function attribute(stix: StixObject, key: string): unknown {
  return ext(stix, OCTI_EXT)[key] ?? ext(stix, SCO_EXT)[key] ?? stix[key];
}

const resolvers: Record<string, (stix: StixObject) => unknown[]> = {
  entity_type: (s) => {
    const type = ext(s, OCTI_EXT).type as string | undefined;
    if (type === undefined) return [];
    if (s.type === 'indicator' || s.type === 'identity') return [type, ...SDO_PARENTS];
    return s.type === 'marking-definition' || s.type === 'relationship' ? [type] : [type, ...SCO_PARENTS];
  },
  detection: (s) => [attribute(s, 'detection')],
  revoked: (s) => [s.revoked ?? false],
  pattern_type: (s) => [s.pattern_type],
  x_opencti_score: (s) => [attribute(s, 'score')],
  score: (s) => [attribute(s, 'score')],
  confidence: (s) => [s.confidence],
  objectMarking: (s) => (s.object_marking_refs as unknown[] | undefined) ?? [],
  objectLabel: (s) => (attribute(s, 'labels') as unknown[] | undefined) ?? [],
  createdBy: (s) => [attribute(s, 'created_by_ref')],
  indicator_types: (s) => (s.indicator_types as unknown[] | undefined) ?? [],
  x_opencti_main_observable_type: (s) => [attribute(s, 'main_observable_type')],
};

const SUPPORTED_FILTER_KEYS = Object.keys(resolvers);

export function validateFilterGroup(group: FilterGroup): void {
  for (const filter of group.filters) {
    for (const key of [filter.key].flat()) {
      if (!(key in resolvers)) throw new Error(`unsupported filter key ${key} (supported: ${SUPPORTED_FILTER_KEYS.join(', ')})`);
    }
  }
  group.filterGroups.forEach(validateFilterGroup);
}

function compare(actual: unknown, operator: NonNullable<Filter['operator']>, expected: unknown): boolean {
  const a = typeof actual === 'boolean' ? String(actual) : actual;
  const e = typeof expected === 'boolean' ? String(expected) : expected;
  switch (operator) {
    case 'eq':
      return a === e || (typeof a === 'number' && a === Number(e));
    case 'not_eq':
      return !(a === e || (typeof a === 'number' && a === Number(e)));
    case 'gt':
      return Number(a) > Number(e);
    case 'gte':
      return Number(a) >= Number(e);
    case 'lt':
      return Number(a) < Number(e);
    case 'lte':
      return Number(a) <= Number(e);
    default:
      return false;
  }
}

function matchFilter(stix: StixObject, filter: Filter): boolean {
  const operator = filter.operator ?? 'eq';
  const mode = filter.mode ?? 'or';
  const actual = [filter.key].flat().flatMap((key) => resolvers[key]!(stix)).filter((v) => v !== undefined && v !== null);
  if (operator === 'nil') return actual.length === 0;
  if (operator === 'not_nil') return actual.length > 0;
  const test = (expected: unknown): boolean => operator === 'not_eq' ? actual.every((a) => compare(a, operator, expected)) : actual.some((a) => compare(a, operator, expected));
  return mode === 'and' ? filter.values.every(test) : filter.values.some(test);
}

export function matchesFilterGroup(stix: StixObject, group: FilterGroup | undefined): boolean {
  if (group === undefined) return true;
  const results = [...group.filters.map((f) => matchFilter(stix, f)), ...group.filterGroups.map((g) => matchesFilterGroup(stix, g))];
  if (results.length === 0) return true;
  return group.mode === 'or' ? results.some(Boolean) : results.every(Boolean);
}
