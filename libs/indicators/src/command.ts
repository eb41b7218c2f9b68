// Encoding and decoding of commands and resync markers (the schemas: command-schema.ts).
import { z } from 'zod';
import { isValidCommand } from './command-check.ts';
import { COMMAND_SCHEMA_VERSION, CommandSchema, MAX_COMMAND_BYTES, ResyncMarkerSchema, type Command, type ResyncMarker } from './command-schema.ts';
import type { Result } from './types.ts';

export * from './command-schema.ts';

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
