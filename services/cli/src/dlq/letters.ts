// Dead letters as the two services write them (the envelope of @octi-defender/kafka, dead-letter.ts)
// and the redrive markers this command line adds to the same topic; decoding, Defender's code and
// message, and the filters of `dlq list` / `dlq redrive`. Pure: no broker here.
import { decodeDeadLetter } from '@octi-defender/kafka';

export const CLI_ORIGIN = 'octi-defender-cli';
/** Header `op` of a redrive marker; its key is `redrive:<letter id>`. */
export const REDRIVEN_OP = 'redriven';

export type Service = 'stream-listener' | 'defender-writer';

export interface DeadLetterView {
  /** `<dlq partition>:<offset>`: names one letter for `dlq redrive --id`. */
  readonly id: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly recordKey: string;
  readonly service: Service | 'unknown';
  readonly reason: string;
  readonly detail: string;
  /** The indicator key (writer) or `<stream>:<event id>` (listener). */
  readonly key: string;
  /** When the service wrote it (ms since the epoch). */
  readonly at: number;
  /** Defender's answer, when the letter carries one. */
  readonly defender?: { readonly status?: number; readonly code?: string; readonly message: string } | undefined;
  // Writer letters of a record it could not decode: where it was, and its raw text.
  readonly source?: { readonly topic: string; readonly partition: number; readonly offset: string } | undefined;
  // Listener letters: the event.
  readonly streamId?: string | undefined;
  readonly eventId?: string | undefined;
  readonly eventName?: string | undefined;
  readonly raw?: string | undefined;
  readonly truncated: boolean;
}

interface RedriveMarker {
  readonly letterId: string;
  readonly at: number;
  readonly commands: number;
}

export type DlqRecord = { readonly kind: 'letter'; readonly letter: DeadLetterView } | { readonly kind: 'marker'; readonly marker: RedriveMarker } | {
  readonly kind: 'unreadable';
  readonly id: string;
  readonly why: string;
};

/** Reasons whose detail is Defender's answer (see defender-writer: refusalReason and the import's failureReason). */
const DEFENDER_REASONS = new Set(['defender_rejected', 'defender_failed', 'defender_delete_rejected']);

/** `<status> <code>: <message>` (a whole call refused), optionally after `id <n>: `, or Defender's per-item text. */
export function defenderAnswer(detail: string): { status?: number; code?: string; message: string } {
  const body = detail.replace(/^id \S+: /, '');
  const m = /^(\d{3})(?: ([A-Za-z]\w*))?: ([\s\S]*)$/.exec(body);
  if (!m) return { message: body };
  return { status: Number(m[1]), ...(m[2] !== undefined && { code: m[2] }), message: m[3]! };
}

export function decodeDlqRecord(recordKey: string, partition: number, offset: bigint, value: Buffer | null, headers: Readonly<Record<string, Buffer>>): DlqRecord {
  const id = `${partition}:${offset}`;
  const decoded = decodeDeadLetter(value, headers);
  if (!decoded.ok) return { kind: 'unreadable', id, why: decoded.why };
  const v = decoded.letter;
  if (headers.op?.toString() === REDRIVEN_OP || v.origin === CLI_ORIGIN) return decodeMarker(id, value!);
  const service: DeadLetterView['service'] = v.origin === 'stream-listener' || v.origin === 'defender-writer' ? v.origin : 'unknown';
  return {
    kind: 'letter',
    letter: {
      id,
      partition,
      offset,
      recordKey,
      service,
      reason: v.reason,
      detail: v.detail,
      key: service === 'stream-listener' ? `${v.streamId ?? ''}:${v.eventId ?? ''}` : (v.key ?? recordKey),
      at: Date.parse(v.at) || 0,
      defender: service === 'defender-writer' && DEFENDER_REASONS.has(v.reason) ? defenderAnswer(v.detail) : undefined,
      source: v.topic !== undefined && v.partition !== undefined && v.offset !== undefined ? { topic: v.topic, partition: v.partition, offset: v.offset } : undefined,
      streamId: v.streamId,
      eventId: v.eventId,
      eventName: v.eventName,
      raw: v.raw,
      truncated: v.truncated === true,
    },
  };
}

/** A redrive marker: the letter it redrove, when, and how many commands it sent. */
function decodeMarker(id: string, value: Buffer): DlqRecord {
  const v = JSON.parse(value.toString('utf8')) as Record<string, unknown>;
  if (typeof v.letterId !== 'string') return { kind: 'unreadable', id, why: 'redrive marker without letterId' };
  return { kind: 'marker', marker: { letterId: v.letterId, at: Date.parse(typeof v.at === 'string' ? v.at : '') || 0, commands: typeof v.commands === 'number' ? v.commands : 0 } };
}

export interface LetterFilter {
  readonly service?: Service | undefined;
  readonly reasons?: readonly string[] | undefined;
  /** Exact key, or a prefix when it ends with `*`. */
  readonly key?: string | undefined;
  readonly since?: number | undefined;
  readonly until?: number | undefined;
  readonly ids?: readonly string[] | undefined;
}

export function matches(l: DeadLetterView, f: LetterFilter): boolean {
  if (f.service !== undefined && l.service !== f.service) return false;
  if (f.reasons !== undefined && f.reasons.length > 0 && !f.reasons.includes(l.reason)) return false;
  if (f.key !== undefined && !(f.key.endsWith('*') ? l.key.startsWith(f.key.slice(0, -1)) : l.key === f.key)) return false;
  if (f.since !== undefined && l.at < f.since) return false;
  if (f.until !== undefined && l.at > f.until) return false;
  if (f.ids !== undefined && f.ids.length > 0 && !f.ids.includes(l.id)) return false;
  return true;
}

export function isEmptyFilter(f: LetterFilter): boolean {
  return f.service === undefined && (f.reasons?.length ?? 0) === 0 && f.key === undefined && f.since === undefined && f.until === undefined && (f.ids?.length ?? 0) === 0;
}

/** Letters (oldest first) with the redrive marker of each, if any. */
export interface DlqView {
  readonly letters: readonly DeadLetterView[];
  readonly redriven: ReadonlyMap<string, RedriveMarker>;
  readonly unreadable: readonly { readonly id: string; readonly why: string }[];
}

export function buildView(records: Iterable<DlqRecord>): DlqView {
  const letters: DeadLetterView[] = [];
  const redriven = new Map<string, RedriveMarker>();
  const unreadable: { id: string; why: string }[] = [];
  for (const r of records) {
    if (r.kind === 'letter') letters.push(r.letter);
    else if (r.kind === 'marker') redriven.set(r.marker.letterId, r.marker);
    else unreadable.push({ id: r.id, why: r.why });
  }
  letters.sort((a, b) => a.at - b.at || a.partition - b.partition || Number(a.offset - b.offset));
  return { letters, redriven, unreadable };
}

/** One line of `dlq list`. */
export function renderLetter(l: DeadLetterView, marker: RedriveMarker | undefined): string {
  const when = l.at > 0 ? new Date(l.at).toISOString() : 'unknown time';
  const d = l.defender;
  const answer = d ? `Defender ${[d.status, d.code].filter((x) => x !== undefined).join(' ') || 'said'}: ${d.message}` : l.detail;
  const redrive = marker ? ` [redriven ${new Date(marker.at).toISOString()}]` : '';
  return `${l.id}  ${when}  ${l.service}  ${l.reason}  ${l.key}  ${answer}${redrive}`;
}

/** Dead letters by reason (redrive markers are not letters). */
export function countByReason(letters: readonly DeadLetterView[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of letters) out[`${l.service}/${l.reason}`] = (out[`${l.service}/${l.reason}`] ?? 0) + 1;
  return out;
}
