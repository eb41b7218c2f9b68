// CommandSchema's rules, checked by hand. encodeCommand validates every command the listener
// builds, and zod's safeParse builds a parsed copy of each (encoding took ~1.7 times as long with
// it: bench/normalize.bench.ts). This check only reads: the enums and the date pattern are taken
// from the schemas themselves, and test/command-check.test.ts shows that it and CommandSchema accept
// and refuse the same commands, field by field, so the two cannot drift apart silently.
import { FactsSchema, RetractCommandSchema, SourceSchema, COMMAND_SCHEMA_VERSION } from './command-schema.ts';
import { parseIndicatorKey } from './canonical.ts';
import { isRecord } from './record.ts';

interface Rules {
  readonly eventNames: ReadonlySet<unknown>;
  readonly types: ReadonlySet<unknown>;
  readonly tlps: ReadonlySet<unknown>;
  readonly reasons: ReadonlySet<unknown>;
  readonly isoDate: RegExp;
}

function datePattern(): RegExp {
  const pattern = FactsSchema.shape.validFrom.unwrap()._zod.def.pattern;
  if (!(pattern instanceof RegExp)) throw new Error('FactsSchema.validFrom has no date pattern');
  // Without the global or sticky flags `test` keeps no state between calls.
  return new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, ''));
}

const RULES: Rules = {
  eventNames: new Set(SourceSchema.shape.eventName.options),
  types: new Set(FactsSchema.shape.type.options),
  tlps: new Set(FactsSchema.shape.tlp.unwrap().options),
  reasons: new Set(RetractCommandSchema.shape.reason.options),
  isoDate: datePattern(),
};

const nonEmpty = (v: unknown): boolean => typeof v === 'string' && v.length > 0;
const textOrNull = (v: unknown): boolean => v === null || typeof v === 'string';
const percentOrNull = (v: unknown): boolean => v === null || (typeof v === 'number' && Number.isFinite(v) && v >= 0 && v <= 100);
const dateOrNull = (v: unknown, r: Rules): boolean => v === null || (typeof v === 'string' && r.isoDate.test(v));
const booleanOrNull = (v: unknown): boolean => v === null || typeof v === 'boolean';
function stringArray(v: unknown): boolean {
  if (!Array.isArray(v)) return false;
  for (const x of v) if (typeof x !== 'string') return false;
  return true;
}

function validSource(s: unknown, r: Rules): boolean {
  return isRecord(s) && nonEmpty(s.id) && nonEmpty(s.standardId) && nonEmpty(s.entityType) && nonEmpty(s.streamId)
    && nonEmpty(s.eventId) && r.eventNames.has(s.eventName);
}

function validFacts(f: unknown, r: Rules): boolean {
  return isRecord(f) && r.types.has(f.type) && nonEmpty(f.value) && textOrNull(f.name) && textOrNull(f.description)
    && percentOrNull(f.score) && percentOrNull(f.confidence) && stringArray(f.labels) && stringArray(f.markings)
    && (f.tlp === null || r.tlps.has(f.tlp)) && dateOrNull(f.validFrom, r) && dateOrNull(f.validUntil, r)
    && typeof f.revoked === 'boolean' && booleanOrNull(f.detection) && textOrNull(f.createdBy)
    && dateOrNull(f.created, r) && dateOrNull(f.updated, r);
}

/** Whether `CommandSchema` accepts `cmd` (same answer, without building a parsed copy). */
export function isValidCommand(cmd: unknown): boolean {
  const r = RULES;
  if (!isRecord(cmd) || cmd.schemaVersion !== COMMAND_SCHEMA_VERSION) return false;
  const key = cmd.key;
  if (typeof key !== 'string' || key.length < 3 || parseIndicatorKey(key) === undefined || !validSource(cmd.source, r)) return false;
  if (cmd.redrive !== undefined && !nonEmpty(cmd.redrive)) return false;
  if (cmd.op === 'retract') return r.reasons.has(cmd.reason);
  if (cmd.op !== 'upsert' || !validFacts(cmd.facts, r)) return false;
  const facts = cmd.facts as { type: string; value: string };
  return key === `${facts.type}:${facts.value}`;
}
