// The command the stream-listener publishes and the defender-writer consumes: one schema,
// validated on both sides. Tenant-agnostic: what OpenCTI says, never what Defender should do.
import { z } from 'zod';
import { parseIndicatorKey } from './canonical.ts';
import { isValidCommand } from './command-check.ts';
import { DEFENDER_INDICATOR_TYPES, type Result } from './types.ts';

export const COMMAND_SCHEMA_VERSION = 1;

/** Decoded commands larger than this are refused before parsing (a command is ~1 KB). */
export const MAX_COMMAND_BYTES = 256 * 1024;

const isoDate = z.iso.datetime({ offset: true });
const nullableText = z.string().nullable();

export const SourceSchema = z.object({
  /** OpenCTI internal id (the OpenCTI extension's `id`); the writer's claim id. */
  id: z.string().min(1),
  /** STIX standard id (`indicator--…`, `ipv4-addr--…`). */
  standardId: z.string().min(1),
  /** OpenCTI entity type (`Indicator`, `IPv4-Addr`, `StixFile`…). */
  entityType: z.string().min(1),
  streamId: z.string().min(1),
  /** SSE event id (`<ms>-<seq>`). */
  eventId: z.string().min(1),
  /** SSE event name (not the payload's `type`). */
  eventName: z.enum(['create', 'update', 'delete', 'merge']),
});

export const FactsSchema = z.object({
  type: z.enum(DEFENDER_INDICATOR_TYPES),
  value: z.string().min(1),
  name: nullableText,
  description: nullableText,
  score: z.number().min(0).max(100).nullable(),
  confidence: z.number().min(0).max(100).nullable(),
  labels: z.array(z.string()),
  /** Marking names (`TLP:AMBER`, `PAP:GREEN`…); unknown marking ids appear as the raw id. */
  markings: z.array(z.string()),
  /** The most restrictive TLP among `markings`, or null. */
  tlp: z.enum(['TLP:CLEAR', 'TLP:GREEN', 'TLP:AMBER', 'TLP:AMBER+STRICT', 'TLP:RED']).nullable(),
  validFrom: isoDate.nullable(),
  validUntil: isoDate.nullable(),
  revoked: z.boolean(),
  /**
   * OpenCTI `detection` flag as a fact (false unless someone set it: OpenCTI's default); null for
   * observables, which have none. Whether it matters is the writer's policy, never a retraction here.
   */
  detection: z.boolean().nullable(),
  /** `created_by_ref` (identity standard id); names are not on the stream with no-dependencies. */
  createdBy: nullableText,
  created: isoDate.nullable(),
  updated: isoDate.nullable(),
});

// `detection_disabled` is no longer produced (detection is a fact of upserts); it is still accepted so
// that commands already on the topic decode.
export const RETRACT_REASONS = ['deleted', 'left_filter', 'value_changed', 'merged', 'revoked', 'detection_disabled', 'expired'] as const;

const keyField = z.string().min(3).refine((k) => parseIndicatorKey(k) !== undefined, {
  message: 'key must be <DefenderIndicatorType>:<value>',
});

export const UpsertCommandSchema = z.object({
  schemaVersion: z.literal(COMMAND_SCHEMA_VERSION),
  op: z.literal('upsert'),
  key: keyField,
  source: SourceSchema,
  facts: FactsSchema,
  /** Set by an operator's redrive (the dead letter's id): the writer sends it even if Defender refused this version before. */
  redrive: z.string().min(1).optional(),
}).refine((c) => c.key === `${c.facts.type}:${c.facts.value}`, { message: 'key must equal facts.type:facts.value', path: ['key'] });

export const RetractCommandSchema = z.object({
  schemaVersion: z.literal(COMMAND_SCHEMA_VERSION),
  op: z.literal('retract'),
  key: keyField,
  source: SourceSchema,
  /** Why the claim is withdrawn; informational for logs and metrics. */
  reason: z.enum(RETRACT_REASONS),
  redrive: z.string().min(1).optional(),
});

export const CommandSchema = z.discriminatedUnion('op', [UpsertCommandSchema, RetractCommandSchema]);

export type CommandSource = z.infer<typeof SourceSchema>;
export type IndicatorFacts = z.infer<typeof FactsSchema>;
export type RetractReason = (typeof RETRACT_REASONS)[number];
export type UpsertCommand = z.infer<typeof UpsertCommandSchema>;
export type RetractCommand = z.infer<typeof RetractCommandSchema>;
export type Command = z.infer<typeof CommandSchema>;

export interface CommandDecodeError {
  readonly code: 'too_large' | 'invalid_json' | 'unsupported_version' | 'invalid_command';
  readonly message: string;
  /** Field paths with problems (for `invalid_command`). */
  readonly issues?: readonly { readonly path: string; readonly message: string }[];
}

/**
 * Serializes a command to its JSON text. Validates first: an invalid command is a bug in the
 * producer, so this throws a TypeError rather than publishing something the consumer will
 * dead-letter. The check is CommandSchema's rules by hand (command-check.ts: it runs on every
 * command the listener builds); zod only words the error. The listener hands the text to kafkajs,
 * which writes it straight into the record batch (a Buffer would be one more copy per command).
 */
export function encodeCommandJson(cmd: Command): string {
  if (!isValidCommand(cmd)) {
    const checked = CommandSchema.safeParse(cmd);
    throw new TypeError(`invalid command: ${checked.success ? 'refused by isValidCommand, which disagrees with CommandSchema' : formatIssues(checked.error.issues)}`);
  }
  return JSON.stringify(cmd);
}

/** `encodeCommandJson` as UTF-8 bytes. */
export function encodeCommand(cmd: Command): Buffer {
  return Buffer.from(encodeCommandJson(cmd), 'utf8');
}

function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
}

/** Parses and validates a command. Never throws on malformed input. */
export function decodeCommand(buf: Uint8Array): Result<Command, CommandDecodeError> {
  if (buf.byteLength > MAX_COMMAND_BYTES) {
    return { ok: false, error: { code: 'too_large', message: `command is ${buf.byteLength} bytes, limit ${MAX_COMMAND_BYTES}` } };
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8'));
  } catch (err) {
    return { ok: false, error: { code: 'invalid_json', message: (err as Error).message } };
  }
  if (typeof json === 'object' && json !== null && 'schemaVersion' in json && json.schemaVersion !== COMMAND_SCHEMA_VERSION) {
    return {
      ok: false,
      error: { code: 'unsupported_version', message: `schemaVersion ${JSON.stringify(json.schemaVersion)} is not ${COMMAND_SCHEMA_VERSION}` },
    };
  }
  const parsed = CommandSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
    return { ok: false, error: { code: 'invalid_command', message: formatIssues(parsed.error.issues), issues } };
  }
  return { ok: true, value: parsed.data };
}

/** JSON Schema (draft 2020-12) of a command, for generated docs. */
export function commandJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(CommandSchema, { target: 'draft-2020-12', io: 'input' });
}

// ---- Resync markers (stream-listener → defender-writer) -------------------------------------------
// Not commands about one indicator, so not part of CommandSchema: a resync replays a stream's current
// state between a `begin` and an `end` marker; one copy of each marker goes to every partition of the
// commands topic (so it is ordered with every key's commands), with the Kafka header `op: resync`.
// At `end` on a partition, a writer retracts, for its tenant, the claims from that stream on that
// partition's keys that were not asserted since `begin` of the same epoch on that partition.

export const RESYNC_REASONS = ['trimmed_history', 'operator'] as const;

export const ResyncMarkerSchema = z.object({
  schemaVersion: z.literal(COMMAND_SCHEMA_VERSION),
  op: z.literal('resync'),
  phase: z.enum(['begin', 'end']),
  streamId: z.string().min(1),
  /** Names one resync of one stream; `end` closes the `begin` with the same epoch. */
  epoch: z.string().min(1),
  /** The partition this copy was written to, and how many the topic had. */
  partition: z.number().int().min(0),
  partitions: z.number().int().min(1),
  reason: z.enum(RESYNC_REASONS),
  at: isoDate,
});

export type ResyncMarker = z.infer<typeof ResyncMarkerSchema>;

export function encodeResyncMarker(marker: ResyncMarker): Buffer {
  const checked = ResyncMarkerSchema.safeParse(marker);
  if (!checked.success) throw new TypeError(`invalid resync marker: ${formatIssues(checked.error.issues)}`);
  return Buffer.from(JSON.stringify(marker), 'utf8');
}

/** Parses a record written with the `op: resync` header. Never throws. */
export function decodeResyncMarker(buf: Uint8Array): Result<ResyncMarker, CommandDecodeError> {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).toString('utf8'));
  } catch (err) {
    return { ok: false, error: { code: 'invalid_json', message: (err as Error).message } };
  }
  const parsed = ResyncMarkerSchema.safeParse(json);
  if (!parsed.success) return { ok: false, error: { code: 'invalid_command', message: formatIssues(parsed.error.issues) } };
  return { ok: true, value: parsed.data };
}
