// RFC 6902 patches between two STIX objects, as OpenCTI puts in update/merge contexts.
import { isRecord } from '../http.ts';

export interface PatchOp {
  op: 'add' | 'remove' | 'replace';
  path: string;
  value?: unknown;
}

const escapeToken = (token: string): string => token.replaceAll('~', '~0').replaceAll('/', '~1');

/** Ops that turn `from` into `to`; objects are walked key by key, arrays and scalars replaced whole. */
export function diff(from: Record<string, unknown>, to: Record<string, unknown>, base = ''): PatchOp[] {
  const ops: PatchOp[] = [];
  for (const key of Object.keys(from)) {
    if (!(key in to)) ops.push({ op: 'remove', path: `${base}/${escapeToken(key)}` });
  }
  for (const [key, value] of Object.entries(to)) {
    const path = `${base}/${escapeToken(key)}`;
    if (!(key in from)) {
      ops.push({ op: 'add', path, value });
      continue;
    }
    const previous = from[key];
    if (isRecord(previous) && isRecord(value)) ops.push(...diff(previous, value, path));
    else if (JSON.stringify(previous) !== JSON.stringify(value)) ops.push({ op: 'replace', path, value });
  }
  return ops;
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
