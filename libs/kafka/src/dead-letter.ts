// The dead-letter envelope: what the stream-listener and the defender-writer write to the DLQ topic
// and what `octi-defender dlq list` / `dlq redrive` read back. One builder, so every letter has the
// same fields, headers, record key and raw cut; one decoder, so readers type the fields one way.
import type { HeaderValue, OutgoingRecord } from './port.ts';

/**
 * The raw text a letter keeps, in UTF-16 code units. 64 Ki units are at most 192 KiB of UTF-8, and
 * at most 384 KiB once JSON escapes every character (`\u0000`): a letter stays well under the
 * broker's default message.max.bytes (1 MiB) with room for the rest of the envelope, while keeping
 * whole any command the writer accepts (MAX_COMMAND_BYTES) and most raw events.
 */
export const MAX_DEAD_LETTER_RAW = 64 * 1024;

type DeadLetterOrigin = 'stream-listener' | 'defender-writer';

/** Where the writer read the record it could not apply. */
interface DeadLetterSource {
  readonly topic: string;
  readonly partition: number;
  /** Decimal int64. */
  readonly offset: string;
}

/** The listener's SSE event; size and entity describe an event skipped whole (only its head is kept). */
interface DeadLetterEvent {
  readonly streamId: string;
  readonly eventId: string;
  readonly eventName: string;
  readonly size?: number;
  readonly entityType?: string;
  readonly entityId?: string;
}

/** The letter's JSON value. Field names are the wire format: `dlq list` reads letters years old. */
export interface DeadLetter extends Partial<DeadLetterSource>, Partial<DeadLetterEvent> {
  readonly origin: string;
  readonly reason: string;
  readonly detail: string;
  /** The indicator key (writer), null when the record had none. */
  readonly key?: string | null;
  readonly raw?: string;
  /** Present with `raw`: true when `raw` is not the whole text. */
  readonly truncated?: boolean;
  /** ISO 8601. */
  readonly at: string;
}

export interface DeadLetterInput {
  readonly origin: DeadLetterOrigin;
  readonly reason: string;
  readonly detail: string;
  readonly key?: string | null;
  readonly source?: DeadLetterSource;
  readonly event?: DeadLetterEvent;
  /** Cut to MAX_DEAD_LETTER_RAW here. */
  readonly raw?: string;
  /** `raw` is already a part (a skipped event's head): truncated whatever its length. */
  readonly partial?: boolean;
  readonly at: Date;
}

/**
 * The DLQ record of one letter. Its key is `<stream>:<event id>` for an event, else the indicator
 * key, else `<topic>:<partition>:<offset>` of the source record; headers `origin` and `reason` let
 * tools filter without parsing the value.
 */
export function deadLetterRecord(topic: string, input: DeadLetterInput): OutgoingRecord {
  const { origin, reason, detail, key, source, event, raw, partial, at } = input;
  const cut = raw !== undefined && raw.length > MAX_DEAD_LETTER_RAW;
  const letter: DeadLetter = {
    origin,
    reason,
    detail,
    ...(key !== undefined && { key }),
    ...source,
    ...event,
    ...(raw !== undefined && { raw: cut ? raw.slice(0, MAX_DEAD_LETTER_RAW) : raw, truncated: cut || partial === true }),
    at: at.toISOString(),
  };
  const recordKey = event ? `${event.streamId}:${event.eventId || 'no-id'}` : (key ?? `${source?.topic ?? ''}:${source?.partition ?? ''}:${source?.offset ?? ''}`);
  return { topic, key: recordKey, value: JSON.stringify(letter), headers: { origin, reason } };
}

type DecodedDeadLetter = { readonly ok: true; readonly letter: DeadLetter } | { readonly ok: false; readonly why: string };

/** Parses a DLQ record's value: `not JSON` or `empty record` when it cannot be a letter. */
export function decodeDeadLetter(value: Buffer | string | null, headers: Readonly<Record<string, HeaderValue | undefined>> = {}): DecodedDeadLetter {
  if (value === null) return { ok: false, why: 'empty record' };
  try {
    const parsed: unknown = JSON.parse(value.toString());
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not an object');
    return { ok: true, letter: deadLetterOf(parsed as Readonly<Record<string, unknown>>, headers) };
  } catch (err) {
    return { ok: false, why: `not JSON: ${(err as Error).message}` };
  }
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

/**
 * The envelope's fields from a parsed value, each kept only with its type; origin and reason fall
 * back on the headers, then `unknown` and reason `unknown`.
 */
function deadLetterOf(v: Readonly<Record<string, unknown>>, headers: Readonly<Record<string, HeaderValue | undefined>>): DeadLetter {
  const fields: Record<string, unknown> = {
    origin: str(v.origin) ?? headers.origin?.toString() ?? 'unknown',
    reason: str(v.reason) ?? headers.reason?.toString() ?? 'unknown',
    detail: str(v.detail) ?? '',
    key: v.key === null ? null : str(v.key),
    topic: str(v.topic),
    partition: num(v.partition),
    offset: str(v.offset),
    streamId: str(v.streamId),
    eventId: str(v.eventId),
    eventName: str(v.eventName),
    size: num(v.size),
    entityType: str(v.entityType),
    entityId: str(v.entityId),
    raw: str(v.raw),
    truncated: typeof v.truncated === 'boolean' ? v.truncated : undefined,
    at: str(v.at) ?? '',
  };
  for (const k of Object.keys(fields)) if (fields[k] === undefined) delete fields[k];
  return fields as unknown as DeadLetter;
}
