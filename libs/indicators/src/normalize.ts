// OpenCTI live-stream event → commands. Pure: the caller owns I/O, counting and the DLQ.
import jsonpatch, { type Operation } from 'fast-json-patch';
import { indicatorKey } from './canonical.ts';
import { COMMAND_SCHEMA_VERSION, type Command, type CommandSource, type IndicatorFacts, type RetractReason } from './command-schema.ts';
import { strongestTlp, type MarkingRegistry } from './markings.ts';
import { extractValues, normalizeHashAlgorithm } from './pattern/extract.ts';
import { parsePattern } from './pattern/parser.ts';
import { isRecord } from './record.ts';
import type { DefenderIndicatorType, IndicatorKey, Reject, RejectReason } from './types.ts';

export const OCTI_EXTENSION = 'extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba';
export const SCO_EXTENSION = 'extension-definition--f93e2c80-4231-4f9a-af8b-95c9bd566a82';

export type StreamEventName = 'create' | 'update' | 'delete' | 'merge';

export interface StreamEvent {
  readonly streamId: string;
  /** SSE event id. */
  readonly id: string;
  /** SSE event name: what to do is decided on it, never on `data.type`. */
  readonly name: StreamEventName;
  /** The parsed SSE `data` JSON (`{version:"4", type, data: <STIX>, context?}`). */
  readonly data: unknown;
}

export interface NormalizeResult {
  readonly commands: Command[];
  readonly rejects: Reject[];
}

type Stix = Record<string, unknown>;

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
/**
 * Bounds of the free-text facts. OpenCTI caps none of them, and a command over MAX_COMMAND_BYTES is
 * dead-lettered, so that value would never reach Defender; the writer uses at most 4,000 characters
 * of a name or description (DEFENDER_TITLE/DESCRIPTION_MAX_LENGTH) and labels only as labels.
 */
const MAX_TEXT_CHARS = 4000;
const MAX_LABELS = 100;
const MAX_LABEL_CHARS = 256;
/** `v` cut to `max` UTF-16 units, never inside a surrogate pair. */
function bounded(v: string | null, max: number): string | null {
  if (v === null || v.length <= max) return v;
  const code = v.charCodeAt(max - 1);
  return v.slice(0, code >= 0xd800 && code <= 0xdbff ? max - 1 : max);
}
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
// OpenCTI already writes `YYYY-MM-DDTHH:MM:SS.mmmZ`; only other forms pay for re-serialization.
const isCanonicalIso = (v: string): boolean => v.length === 24 && v[10] === 'T' && v[19] === '.' && v[23] === 'Z';
function isoOrNull(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const t = Date.parse(v);
  // Past year 9999 there is no ISO 8601 form the command schema accepts (toISOString gives "+010000-…").
  if (Number.isNaN(t) || t >= 253402300800000) return null;
  return isCanonicalIso(v) ? v : new Date(t).toISOString();
}

function ext(stix: Stix, id: string): Record<string, unknown> | undefined {
  const exts = stix.extensions;
  if (!isRecord(exts)) return undefined;
  const e = exts[id];
  return isRecord(e) ? e : undefined;
}

/** pycti's lookup order: OpenCTI extension, then SCO extension, then top level. */
function attr(stix: Stix, key: string): unknown {
  return ext(stix, OCTI_EXTENSION)?.[key] ?? ext(stix, SCO_EXTENSION)?.[key] ?? stix[key];
}

// STIX 2.1 SCOs and OpenCTI's custom SCOs: observables that Defender may or may not represent.
const SCO_TYPES = new Set([
  'artifact',
  'autonomous-system',
  'directory',
  'domain-name',
  'email-addr',
  'email-message',
  'file',
  'ipv4-addr',
  'ipv6-addr',
  'mac-addr',
  'mutex',
  'network-traffic',
  'process',
  'software',
  'url',
  'user-account',
  'windows-registry-key',
  'x509-certificate',
  'hostname',
  'cryptographic-key',
  'cryptocurrency-wallet',
  'text',
  'user-agent',
  'bank-account',
  'phone-number',
  'payment-card',
  'media-content',
  'credential',
  'tracking-number',
  'persona',
  'ssh-key',
  'imei',
  'iccid',
  'imsi',
]);

const SCO_VALUE_TYPES: Readonly<Record<string, DefenderIndicatorType>> = {
  'ipv4-addr': 'IpAddress',
  'ipv6-addr': 'IpAddress',
  'domain-name': 'DomainName',
  hostname: 'DomainName',
  url: 'Url',
};

const FILE_HASH_PREFERENCE: readonly (readonly [string, DefenderIndicatorType])[] = [
  ['SHA256', 'FileSha256'],
  ['SHA1', 'FileSha1'],
  ['MD5', 'FileMd5'],
];

/** Strongest representable hash of a `hashes` dictionary; keys are matched case- and dash-insensitively. */
function hashKey(hashes: unknown, certificate: boolean): { type: DefenderIndicatorType; raw: string } | undefined {
  if (!isRecord(hashes)) return undefined;
  const byAlgo = new Map<string, string>();
  for (const [k, v] of Object.entries(hashes)) if (typeof v === 'string') byAlgo.set(normalizeHashAlgorithm(k), v);
  if (certificate) {
    const sha1 = byAlgo.get('SHA1');
    return sha1 === undefined ? undefined : { type: 'CertificateThumbprint', raw: sha1 };
  }
  for (const [algo, type] of FILE_HASH_PREFERENCE) {
    const raw = byAlgo.get(algo);
    if (raw !== undefined) return { type, raw };
  }
  return undefined;
}

type EntityKind = 'indicator' | 'observable' | 'other';

function entityKind(stix: Stix): EntityKind {
  const type = stix.type;
  if (type === 'indicator') return 'indicator';
  if (typeof type === 'string' && (SCO_TYPES.has(type) || ext(stix, SCO_EXTENSION) !== undefined)) return 'observable';
  return 'other';
}

interface KeySet {
  readonly keys: IndicatorKey[];
  /** `keys` by key, for de-duplication and lookups in constant time (a pattern may hold 100,000 values). */
  readonly seen: Set<string>;
  readonly rejects: Reject[];
}

function pushKey(into: KeySet, stixId: string, type: DefenderIndicatorType, raw: string): string | undefined {
  const k = indicatorKey(type, raw);
  if (!k.ok) {
    into.rejects.push({ reason: k.error.reason, detail: `${type}: ${k.error.detail}`, value: raw, stixId });
    return undefined;
  }
  if (!into.seen.has(k.value.key)) {
    into.seen.add(k.value.key);
    into.keys.push(k.value);
  }
  return k.value.key;
}

/** Longest pattern quoted in a reject's `value` (rejects are logged; patterns may be megabytes). */
const MAX_REJECT_PATTERN = 1024;
const cut = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);

const reject = (reason: RejectReason, detail: string, stixId?: string, value?: string): Reject =>
  value === undefined ? { reason, detail, ...(stixId === undefined ? {} : { stixId }) } : { reason, detail, value, ...(stixId === undefined ? {} : { stixId }) };

// OpenCTI entity types in observable_values → how to read one entry.
const OV_VALUE_TYPES: Readonly<Record<string, DefenderIndicatorType>> = {
  'ipv4-addr': 'IpAddress',
  'ipv6-addr': 'IpAddress',
  'domain-name': 'DomainName',
  hostname: 'DomainName',
  url: 'Url',
};

/**
 * The pattern is authoritative: it is what the Indicator detects and what OpenCTI itself matches on,
 * while observable_values is a derived copy that can be stale or lossy. Values only in
 * observable_values are reported (`observable_values_mismatch`), never published.
 */
function crossCheck(stix: Stix, stixId: string, patternKeys: ReadonlySet<string>, rejects: Reject[]): void {
  const ovs = ext(stix, OCTI_EXTENSION)?.observable_values;
  if (!Array.isArray(ovs)) return;
  for (const ov of ovs) {
    if (!isRecord(ov) || typeof ov.type !== 'string') continue;
    const t = ov.type.toLowerCase();
    let candidate: { type: DefenderIndicatorType; raw: string } | undefined;
    const valueType = OV_VALUE_TYPES[t];
    if (valueType !== undefined && typeof ov.value === 'string') candidate = { type: valueType, raw: ov.value };
    else if (t === 'stixfile' || t === 'file' || t === 'artifact') candidate = hashKey(ov.hashes, false);
    else if (t === 'x509-certificate') candidate = hashKey(ov.hashes, true);
    if (candidate === undefined) continue; // types Defender cannot take were reported from the pattern
    // Usually the pattern's own value, already canonical: a canonical value canonicalizes to itself
    // (test/canonical.test.ts), so it is one of the pattern's keys as it stands, without a second
    // canonicalization.
    if (patternKeys.has(`${candidate.type}:${candidate.raw}`)) continue;
    const k = indicatorKey(candidate.type, candidate.raw);
    if (!k.ok) continue; // the pattern side reports invalid values
    if (!patternKeys.has(k.value.key)) {
      rejects.push(reject('observable_values_mismatch', `observable_values has ${k.value.key}, which the pattern does not contain; the pattern wins`, stixId, candidate.raw));
    }
  }
}

function indicatorKeys(stix: Stix, stixId: string, into: KeySet): void {
  const patternType = typeof stix.pattern_type === 'string' ? stix.pattern_type.toLowerCase() : 'stix';
  if (patternType !== 'stix') {
    into.rejects.push(reject('unsupported_pattern', `pattern_type ${patternType} not supported (stix only)`, stixId));
    return;
  }
  if (typeof stix.pattern !== 'string') {
    into.rejects.push(reject('malformed_event', 'indicator without a pattern', stixId));
    return;
  }
  const parsed = parsePattern(stix.pattern);
  const quoted = cut(stix.pattern, MAX_REJECT_PATTERN);
  if (!parsed.ok) {
    into.rejects.push(reject('invalid_pattern', parsed.error.message, stixId, quoted));
    return;
  }
  const { values, problems } = extractValues(parsed.pattern);
  // A pattern of 50,000 branches may have 50,000 times the same problem: reported once, with the count.
  const counts = new Map<string, { problem: (typeof problems)[number]; n: number }>();
  for (const p of problems) {
    const id = `${p.reason}\u0000${p.detail}`;
    const seen = counts.get(id);
    if (seen === undefined) counts.set(id, { problem: p, n: 1 });
    else seen.n++;
  }
  for (const { problem: p, n } of counts.values()) into.rejects.push(reject(p.reason, n === 1 ? p.detail : `${p.detail} (${n} times)`, stixId, quoted));
  for (const v of values) pushKey(into, stixId, v.type, v.raw);
  crossCheck(stix, stixId, into.seen, into.rejects);
}

function observableKeys(stix: Stix, stixId: string, into: KeySet): void {
  const type = String(stix.type);
  const valueType = SCO_VALUE_TYPES[type];
  if (valueType !== undefined) {
    if (typeof stix.value !== 'string') into.rejects.push(reject('malformed_event', `${type} without a value`, stixId));
    else pushKey(into, stixId, valueType, stix.value);
    return;
  }
  if (type === 'file' || type === 'x509-certificate') {
    const certificate = type === 'x509-certificate';
    const h = hashKey(stix.hashes, certificate);
    if (h === undefined) {
      into.rejects.push(reject(
        'unsupported_type',
        certificate
          ? 'x509-certificate without a SHA-1 thumbprint (CertificateThumbprint takes SHA-1)'
          : 'file without an MD5, SHA-1 or SHA-256 hash',
        stixId,
      ));
    } else pushKey(into, stixId, h.type, h.raw);
    return;
  }
  into.rejects.push(reject('unsupported_type', `${type} not supported`, stixId, str(stix.value) ?? undefined));
}

/** The keys an entity asserts, and why any of its values could not be represented. */
function keysOf(stix: Stix): KeySet {
  const out: KeySet = { keys: [], seen: new Set(), rejects: [] };
  const stixId = String(stix.id);
  const kind = entityKind(stix);
  if (kind === 'indicator') indicatorKeys(stix, stixId, out);
  else if (kind === 'observable') observableKeys(stix, stixId, out);
  return out;
}

function sourceOf(stix: Stix, event: StreamEvent): CommandSource {
  const octi = ext(stix, OCTI_EXTENSION);
  const standardId = String(stix.id);
  return {
    id: str(octi?.id) ?? standardId,
    standardId,
    entityType: str(octi?.type) ?? String(stix.type),
    streamId: event.streamId,
    eventId: event.id,
    eventName: event.name,
  };
}

/** The facts every key of one entity shares (computed once: a pattern may hold thousands of values). */
function factsOf(stix: Stix, markings: MarkingRegistry): Omit<IndicatorFacts, 'type' | 'value'> {
  const octi = ext(stix, OCTI_EXTENSION);
  const markingNames = markings.names(strings(stix.object_marking_refs));
  const score = num(attr(stix, 'score')) ?? num(stix.x_opencti_score);
  const detection = attr(stix, 'detection') ?? stix.x_opencti_detection;
  return {
    name: bounded(str(stix.name), MAX_TEXT_CHARS),
    description: bounded(str(attr(stix, 'description')) ?? str(stix.x_opencti_description), MAX_TEXT_CHARS),
    score: score !== null && score >= 0 && score <= 100 ? score : null,
    confidence: ((c) => (c !== null && c >= 0 && c <= 100 ? c : null))(num(stix.confidence)),
    labels: strings(attr(stix, 'labels')).slice(0, MAX_LABELS).map((l) => bounded(l, MAX_LABEL_CHARS) ?? l),
    markings: markingNames,
    tlp: strongestTlp(markingNames),
    validFrom: isoOrNull(stix.valid_from),
    validUntil: isoOrNull(stix.valid_until),
    revoked: stix.revoked === true,
    detection: typeof detection === 'boolean' ? detection : null,
    createdBy: str(attr(stix, 'created_by_ref')),
    created: isoOrNull(octi?.created_at) ?? isoOrNull(stix.created),
    updated: isoOrNull(octi?.updated_at) ?? isoOrNull(stix.modified),
  };
}

/**
 * Why an entity must not be enforced right now, if it must not. `detection` is not one of these: OpenCTI
 * stores false unless someone sets it, so whether it matters is the tenant's policy (the writer's).
 */
function inactiveReason(stix: Stix, now: Date): RetractReason | undefined {
  if (stix.revoked === true) return 'revoked';
  if (typeof stix.valid_until === 'string') {
    const until = Date.parse(stix.valid_until);
    if (!Number.isNaN(until) && until <= now.getTime()) return 'expired';
  }
  return undefined;
}

// Only these paths can change an entity's keys; other updates (score, labels…) skip the patch.
function touchesKeys(ops: readonly Operation[]): boolean {
  return ops.some((op) => {
    const p = op.path;
    return p === '' || p === '/type' || p.startsWith('/pattern') || p.startsWith('/value') || p.startsWith('/hashes');
  });
}

/** The entity before the update (`reverse_patch` applied to a copy), or a reason it cannot be had. */
function previousState(stix: Stix, context: unknown): { stix?: Stix; error?: string } {
  const reverse = isRecord(context) ? context.reverse_patch : undefined;
  if (!Array.isArray(reverse)) return { error: 'update without context.reverse_patch' };
  const ops = reverse as Operation[];
  if (!touchesKeys(ops)) return { stix };
  try {
    const prev = jsonpatch.applyPatch(stix, ops, false, false).newDocument;
    return isRecord(prev) ? { stix: prev } : { error: 'reverse_patch did not yield an object' };
  } catch (err) {
    return { error: `reverse_patch could not be applied: ${(err as Error).message}` };
  }
}

function upsert(key: IndicatorKey, source: CommandSource, facts: IndicatorFacts): Command {
  return { schemaVersion: COMMAND_SCHEMA_VERSION, op: 'upsert', key: key.key, source, facts };
}

function retract(key: string, source: CommandSource, reason: RetractReason): Command {
  return { schemaVersion: COMMAND_SCHEMA_VERSION, op: 'retract', key, source, reason };
}

/** Upserts an entity's current keys, or retracts them when it is revoked/disabled/expired. */
function assertEntity(stix: Stix, current: KeySet, extraRetracts: readonly string[], event: StreamEvent, now: Date, markings: MarkingRegistry, out: NormalizeResult): void {
  const source = sourceOf(stix, event);
  const inactive = inactiveReason(stix, now);
  if (inactive !== undefined) {
    for (const k of current.keys) out.commands.push(retract(k.key, source, inactive));
    for (const k of extraRetracts) out.commands.push(retract(k, source, inactive));
    return;
  }
  const facts = factsOf(stix, markings);
  for (const k of current.keys) out.commands.push(upsert(k, source, { type: k.type, value: k.value, ...facts }));
  for (const k of extraRetracts) out.commands.push(retract(k, source, 'value_changed'));
}

/**
 * Turns one live-stream event into commands and rejects. Decides on the SSE event name:
 * - create → upsert each key (retract instead when revoked or valid_until ≤ now; `detection` is a fact);
 * - update → the same for the current keys, plus retract of keys the update removed
 *   (found by applying `context.reverse_patch` to a copy);
 * - delete → retract every key (also the "left the filter" delete whose payload type is `update`);
 * - merge → upsert the target's keys, retract every key of each `context.sources` entity.
 * Marking definitions are learnt into `markings`; other non-indicator, non-observable objects are
 * ignored. Retractions never report rejects: unrepresentable values were reported when asserted.
 */
export function normalizeEvent(event: StreamEvent, now: Date, markings: MarkingRegistry): NormalizeResult {
  const out: NormalizeResult = { commands: [], rejects: [] };
  const payload = event.data;
  if (!isRecord(payload) || !isRecord(payload.data)) {
    out.rejects.push(reject('malformed_event', 'event data is not an object with a STIX object in `data`'));
    return out;
  }
  // OpenCTI streams versions it reads as `parseInt(version) >= 4`; a newer one is read field by field.
  const version = typeof payload.version === 'string' || typeof payload.version === 'number' ? Number.parseInt(String(payload.version), 10) : NaN;
  if (!(version >= 4)) {
    out.rejects.push(reject('malformed_event', `event version ${JSON.stringify(payload.version)} is not 4 or later`));
    return out;
  }
  const stix = payload.data;
  if (typeof stix.id !== 'string' || typeof stix.type !== 'string') {
    out.rejects.push(reject('malformed_event', 'STIX object without a string id and type'));
    return out;
  }
  if (stix.type === 'marking-definition') {
    if (event.name !== 'delete') markings.learn(stix);
    return out;
  }
  if (entityKind(stix) === 'other') return out;

  switch (event.name) {
    case 'create': {
      const current = keysOf(stix);
      out.rejects.push(...current.rejects);
      assertEntity(stix, current, [], event, now, markings, out);
      break;
    }
    case 'update': {
      const current = keysOf(stix);
      out.rejects.push(...current.rejects);
      const prev = previousState(stix, payload.context);
      if (prev.error !== undefined) out.rejects.push(reject('malformed_event', `${prev.error}; keys it removed cannot be retracted`, stix.id));
      const gone = prev.stix === undefined || prev.stix === stix
        ? []
        : keysOf(prev.stix).keys.filter((p) => !current.seen.has(p.key)).map((k) => k.key);
      assertEntity(stix, current, gone, event, now, markings, out);
      break;
    }
    case 'delete': {
      const leftFilter = payload.type === 'update';
      const keys = new Set(keysOf(stix).keys.map((k) => k.key));
      if (leftFilter) {
        // The payload is the current state; the state that matched the filter may have had other values.
        const prev = previousState(stix, payload.context).stix;
        if (prev !== undefined && prev !== stix) { for (const k of keysOf(prev).keys) keys.add(k.key); }
      }
      const source = sourceOf(stix, event);
      for (const k of keys) out.commands.push(retract(k, source, leftFilter ? 'left_filter' : 'deleted'));
      break;
    }
    case 'merge': {
      const current = keysOf(stix);
      out.rejects.push(...current.rejects);
      // Upserts first so a value shared with an absorbed entity never has a moment without a claim.
      assertEntity(stix, current, [], event, now, markings, out);
      const sources = isRecord(payload.context) ? payload.context.sources : undefined;
      if (!Array.isArray(sources)) {
        out.rejects.push(reject('malformed_event', 'merge without context.sources; absorbed entities cannot be retracted', stix.id));
        break;
      }
      for (const absorbed of sources) {
        if (!isRecord(absorbed) || typeof absorbed.id !== 'string' || typeof absorbed.type !== 'string') {
          out.rejects.push(reject('malformed_event', 'merge source is not a STIX object', stix.id));
          continue;
        }
        const source = sourceOf(absorbed, event);
        for (const k of keysOf(absorbed).keys) out.commands.push(retract(k.key, source, 'merged'));
      }
      break;
    }
    default:
      out.rejects.push(reject('malformed_event', `SSE event name ${JSON.stringify(event.name)} carries no entity`, stix.id));
  }
  return out;
}
