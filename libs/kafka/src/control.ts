// The control topic's records: operator requests from the command line (reconcile, resync, replay)
// and the services' answers to them. Plain JSON, keyed by request id (one partition: a request and
// its answers in one order). Pure: encode, decode (validated), and what a request is for.

export const CONTROL_SCHEMA_VERSION = 1;

type ControlAction = 'reconcile' | 'resync' | 'replay';
export type ControlService = 'stream-listener' | 'defender-writer';
/**
 * accepted: a service will act on the request (the command line now waits for completion);
 * progress: a step on the way; done: finished; refused: this service will not do it (the detail
 * says why); failed: it tried and could not.
 */
type ControlStatus = 'accepted' | 'progress' | 'done' | 'refused' | 'failed';

export interface ControlRequest {
  readonly schemaVersion: number;
  readonly kind: 'request';
  readonly requestId: string;
  readonly action: ControlAction;
  /** resync, replay: the live stream. */
  readonly stream?: string;
  /** reconcile: one tenant (absent: every tenant). */
  readonly tenant?: string;
  /** replay: an event id `<ms>-<seq>` (a date is converted by the command line to `<ms>-0`). */
  readonly from?: string;
  readonly at: string;
  /** Services ignore a request read after this date (the command line gave up waiting). */
  readonly expiresAt: string;
}

export interface ControlReply {
  readonly schemaVersion: number;
  readonly kind: 'reply';
  readonly requestId: string;
  readonly action: ControlAction;
  readonly status: ControlStatus;
  readonly service: ControlService;
  /** The replica answering (host name, pid and a random part). */
  readonly instance: string;
  readonly stream?: string;
  readonly tenant?: string;
  /** One line for the operator. */
  readonly detail: string;
  /** Figures for scripts (positions, partitions, drift counts). */
  readonly data?: Readonly<Record<string, unknown>>;
  readonly at: string;
}

type ControlRecord = ControlRequest | ControlReply;

const ACTIONS: ReadonlySet<string> = new Set<ControlAction>(['reconcile', 'resync', 'replay']);
const STATUSES: ReadonlySet<string> = new Set<ControlStatus>(['accepted', 'progress', 'done', 'refused', 'failed']);
const SERVICES: ReadonlySet<string> = new Set<ControlService>(['stream-listener', 'defender-writer']);
const CONTROL_EVENT_ID = /^\d+-\d+$/;

export function encodeControl(record: ControlRecord): string {
  return JSON.stringify(record);
}

const optString = (v: unknown): boolean => v === undefined || typeof v === 'string';

/** The record, or undefined when it is not a control record this version understands. */
export function decodeControl(value: Buffer | string | null): ControlRecord | undefined {
  if (value === null) return undefined;
  let r: Record<string, unknown>;
  try {
    const parsed = JSON.parse(typeof value === 'string' ? value : value.toString('utf8')) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
    r = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (r.schemaVersion !== CONTROL_SCHEMA_VERSION || typeof r.requestId !== 'string' || r.requestId === '' || !ACTIONS.has(r.action as string) || typeof r.at !== 'string') return undefined;
  if (!optString(r.stream) || !optString(r.tenant)) return undefined;
  if (r.kind === 'request') {
    if (typeof r.expiresAt !== 'string' || Number.isNaN(Date.parse(r.expiresAt)) || !optString(r.from)) return undefined;
    if ((r.action === 'resync' || r.action === 'replay') && typeof r.stream !== 'string') return undefined;
    if (r.action === 'replay' && (typeof r.from !== 'string' || !CONTROL_EVENT_ID.test(r.from))) return undefined;
    return r as unknown as ControlRequest;
  }
  if (r.kind === 'reply') {
    if (!STATUSES.has(r.status as string) || !SERVICES.has(r.service as string) || typeof r.instance !== 'string' || typeof r.detail !== 'string') return undefined;
    if (r.data !== undefined && (typeof r.data !== 'object' || r.data === null || Array.isArray(r.data))) return undefined;
    return r as unknown as ControlReply;
  }
  return undefined;
}

/** A request not acted on once read after its expiry. */
export function expired(request: ControlRequest, now: Date): boolean {
  return Date.parse(request.expiresAt) < now.getTime();
}

/**
 * A replay position from what an operator types: an event id `<ms>-<seq>` as is, `0` as `0-0`, an
 * ISO 8601 date as `<ms>-0` (OpenCTI reads a date in `from` the same way: its first event id at or
 * after that millisecond). Undefined when it is neither.
 */
export function replayPosition(input: string): string | undefined {
  if (input === '0') return '0-0';
  if (CONTROL_EVENT_ID.test(input)) return input;
  if (!/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(input)) return undefined;
  const ms = Date.parse(input);
  return Number.isNaN(ms) ? undefined : `${ms}-0`;
}
