// Command-line options of one command, parsed strictly: an unknown option or a missing value is a
// usage error (exit code 2) that says what is accepted.
import { parseArgs } from 'node:util';

export const EXIT = { ok: 0, attention: 1, usage: 2, unreachable: 3 } as const;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type OptionSpec = Record<string, { readonly type: 'string' | 'boolean'; readonly multiple?: boolean }>;

export interface Parsed {
  readonly values: Record<string, string | boolean | string[] | undefined>;
  readonly positionals: string[];
}

export function parseOptions(args: readonly string[], options: OptionSpec, allowPositionals = false): Parsed {
  try {
    const r = parseArgs({ args: [...args], options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true });
    return { values: r.values, positionals: r.positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A --since/--until value: an ISO 8601 date, or a duration back from now (30m, 12h, 7d). */
export function parseTime(name: string, value: string, now: number): number {
  const rel = /^(\d+)(s|m|h|d)$/.exec(value);
  if (rel) return now - Number(rel[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[rel[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(t)) {
    throw new UsageError(`--${name} ${JSON.stringify(value)}: expected an ISO 8601 date (2026-12-06T10:00:00Z) or a duration back from now (30m, 12h, 7d)`);
  }
  return t;
}

export function parsePositiveInt(name: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--${name} ${JSON.stringify(value)}: expected a positive integer`);
  return Number(value);
}
