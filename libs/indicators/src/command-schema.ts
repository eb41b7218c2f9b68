// The command the stream-listener publishes and the defender-writer consumes: one schema,
// validated on both sides. Tenant-agnostic: what OpenCTI says, never what Defender should do.
// Encoding and decoding are in command.ts; command-check.ts checks the same rules by hand.
import { z } from 'zod';
import { parseIndicatorKey } from './canonical.ts';
import { DEFENDER_INDICATOR_TYPES } from './types.ts';

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
