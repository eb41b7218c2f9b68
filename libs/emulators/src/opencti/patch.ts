// RFC 6902 patches between two STIX objects, as OpenCTI puts in update/merge contexts.
import { isRecord } from '@octi-defender/indicators';
import jsonpatch from 'fast-json-patch';

interface PatchOp {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: unknown;
}

/**
 * Ops that turn `from` into `to`, as OpenCTI computes them (fast-json-patch `compare`): objects and
 * arrays are walked member by member, so a changed array shows as index ops (`/labels/2`), and
 * removals come last-index first so the ops apply in order.
 */
export function diff(from: Record<string, unknown>, to: Record<string, unknown>): PatchOp[] {
  return jsonpatch.compare(from, to) as PatchOp[];
}

/** One human-readable line per changed top-level attribute, as OpenCTI's `context.changes`. */
export function changesOf(from: Record<string, unknown>, to: Record<string, unknown>, ignore: ReadonlySet<string>): Array<{ field: string; changes_added: unknown[]; changes_removed: unknown[] }> {
  const out: Array<{ field: string; changes_added: unknown[]; changes_removed: unknown[] }> = [];
  const fields = new Set([...Object.keys(from), ...Object.keys(to)]);
  for (const field of fields) {
    if (ignore.has(field) || JSON.stringify(from[field]) === JSON.stringify(to[field])) continue;
    const before = Array.isArray(from[field]) ? (from[field] as unknown[]) : from[field] === undefined ? [] : [from[field]];
    const after = Array.isArray(to[field]) ? (to[field] as unknown[]) : to[field] === undefined ? [] : [to[field]];
    const key = (v: unknown): string => JSON.stringify(v);
    out.push({
      field,
      changes_added: after.filter((v) => !before.some((b) => key(b) === key(v))),
      changes_removed: before.filter((v) => !after.some((a) => key(a) === key(v))),
    });
  }
  return out;
}

/** Deep merge for scripted updates: objects merge, `null` removes a key, anything else replaces. */
export function deepMerge(target: Record<string, unknown>, changes: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...target };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete out[key];
    else if (isRecord(value) && isRecord(out[key])) out[key] = deepMerge(out[key], value);
    else out[key] = value;
  }
  return out;
}
