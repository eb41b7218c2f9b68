// OpenCTI live stream emulator: GET /stream/:id as sseMiddleware.js serves it (research/opencti.md §1),
// over an in-memory bounded event log, plus /_emulator control endpoints for tests and the demo.
import { isRecord } from '@octi-defender/indicators';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, listen, readJson, sendJson } from '../http.ts';
import type { ListenOptions } from '../http.ts';
import { connectorOperations, connectorRegistry } from './connectors.ts';
import { EventLog, parseStreamId } from './event-log.ts';
import { OpenCtiGraphql, type EmulatedIdentity, type EmulatedSighting } from './sightings.ts';
import type { EventKind, LogEntry } from './event-log.ts';
import { matchesFilterGroup, validateFilterGroup } from './filters.ts';
import { executeGraphql, type Operations } from './graphql.ts';
import type { FilterGroup } from './filters.ts';
import { loadPayloads } from './load.ts';
import { randomScript } from './ops.ts';
import type { StreamOp } from './ops.ts';
import { changesOf, deepMerge, diff } from './patch.ts';
import { authorIdentities, markingDefinitions, OCTI_EXT, OPENCTI_ADMIN_UUID, SCO_EXT, StixGenerator } from './stix.ts';
import type { StixObject } from './stix.ts';

export interface StreamDefinition {
  id: string;
  name?: string;
  /** OpenCTI FilterGroup; absent = every object. */
  filters?: FilterGroup;
  /** stream_live: false answers 410. Default true. */
  live?: boolean;
  /** stream_public: no token needed. */
  public?: boolean;
  /** Load mode: this stream ignores the log and emits `count` generated creates as fast as the client reads. */
  load?: { count: number };
}

export interface OpenCtiEmulatorOptions extends ListenOptions {
  /** Accepted bearer tokens. */
  token: string | string[];
  streams: StreamDefinition[];
  /** Heartbeat period (app:live_stream:heartbeat_period). Default 5000. */
  heartbeatMs?: number;
  /** Bounded stream length, like Redis MAXLEN. Default 100000. */
  maxLength?: number;
  seed?: number;
  /** Base time of generated content (epoch ms). */
  epochMs?: number;
  /** Clock for event ids and timestamps; default Date.now. */
  clock?: () => number;
  /** Seed the platform with the TLP marking definitions and author identities (default true). */
  seedReferenceData?: boolean;
  /**
   * Write a heartbeat carrying an event's id between its dependencies and the event itself, as
   * OpenCTI's heartbeat timer does when it fires during the awaits between them. Default false.
   */
  heartbeatRace?: boolean;
}

/** Connections to a stream cut while they write one event: after its dependencies, or inside its data. */
export interface ConnectionCut {
  eventId: string;
  at: 'after-dependencies' | 'inside';
  /** How many connections are cut there (default 1; Infinity = every one). */
  times?: number;
}

export const MALFORMED_KINDS = ['bad-json', 'unknown-event', 'missing-fields', 'oversized'] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

export interface AppendedEvent {
  id: string;
  event: EventKind;
  stixId: string;
}

export interface OpenCtiEmulator {
  url: string;
  streamUrl(id: string): string;
  /** The seeded content generator (same seed → same objects). */
  generator: StixGenerator;
  append(...ops: StreamOp[]): AppendedEvent[];
  /** Appends a realistic random script of `count` operations from the generator. */
  generate(count: number): AppendedEvent[];
  entities(): StixObject[];
  entity(id: string): StixObject | undefined;
  lastEventId(): string | undefined;
  connectionCount(streamId?: string): number;
  /** Destroys the sockets of open stream connections (all streams when omitted); returns how many. */
  dropConnections(streamId?: string): number;
  /** stream_live = false: new connections get 410 and open ones are ended. */
  stop(streamId: string): void;
  start(streamId: string): void;
  /** Appends a malformed event, delivered to every stream regardless of filters; returns its id. */
  injectMalformed(kind: MalformedKind, options?: { size?: number }): string;
  /** Cuts connections while they write the given event (a proxy limit, a server crash mid-event). */
  cutConnections(cut: ConnectionCut): void;
  /** Edits a stream's filters; open connections apply them from their next event, as OpenCTI re-reads the collection after each batch. */
  setFilters(streamId: string, filters: FilterGroup | undefined): void;
  /** Trims the history to its last `keep` events, like Redis MAXLEN trimming; returns how many went. */
  trimHistory(keep: number): number;
  /** The registered connectors as the GraphQL `connectors` query shows them (every field). */
  connectors(): Array<Record<string, unknown>>;
  /** What `resetStateConnector` does (the UI's "reset the connector state"). */
  resetConnectorState(id: string): void;
  /** URL of the GraphQL API (POST, bearer token as for the streams). */
  graphqlUrl: string;
  /** Sightings created through the GraphQL API, as stored. */
  sightings(): EmulatedSighting[];
  /** Identities created through the GraphQL API (identityAdd). */
  identities(): EmulatedIdentity[];
  /** While down, POST /graphql answers that status (true: 503; false or undefined: up): OpenCTI's API unreachable, the streams go on. */
  setGraphqlDown(down: boolean | number | undefined): void;
  close(): Promise<void>;
}

const SSE_HEADERS = {
  Connection: 'keep-alive',
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Access-Control-Allow-Origin': '*',
  'Cache-Control': 'no-cache, no-transform',
};
const DEPENDENCY_CACHE_MAX = 5000;
const WRITE_CHUNK = 64 * 1024;
const DEFAULT_ORIGIN = { socket: 'query', user_id: OPENCTI_ADMIN_UUID };

/** One event as written: its dependencies (same id) and the event itself. */
interface Rendered {
  deps: string;
  main: string;
}
const NOTHING: Rendered = { deps: '', main: '' };

export function sseEvent(id: string | undefined, event: string, data: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`;
}

function octi(stix: StixObject): Record<string, unknown> {
  return ((stix.extensions as Record<string, Record<string, unknown>> | undefined)?.[OCTI_EXT]) ?? {};
}

function updatedMs(stix: StixObject): number {
  const value = octi(stix).updated_at ?? stix.modified ?? stix.created;
  return typeof value === 'string' ? Date.parse(value) : 0;
}

/** Top-level attributes with the OpenCTI and SCO extensions' members beside them, for `changes`. */
function attributes(stix: StixObject): Record<string, unknown> {
  const { extensions, ...top } = stix;
  const exts = (extensions ?? {}) as Record<string, Record<string, unknown>>;
  return { ...top, ...exts[SCO_EXT], ...exts[OCTI_EXT] };
}
const STAMPS: ReadonlySet<string> = new Set(['modified', 'updated_at']);

function displayName(stix: StixObject): string {
  const name = stix.name ?? stix.value ?? stix.id;
  return typeof name === 'string' ? name : stix.id;
}

function entityType(stix: StixObject): string {
  const type = octi(stix).type;
  return typeof type === 'string' ? type : stix.type;
}

/** Like OpenCTI's stream id parameter parsing: `0`, `0-0`, `<ms>-<seq>` or an ISO date. */
function toStreamId(param: string | undefined): { ms: number; seq: number } | undefined {
  if (param === undefined || param === '') return undefined;
  if (param === '0' || param === '0-0') return { ms: 0, seq: 0 };
  const id = parseStreamId(param);
  if (id) return id;
  const date = Date.parse(param);
  return Number.isNaN(date) ? undefined : { ms: date, seq: 0 };
}

interface StreamState {
  def: StreamDefinition;
  live: boolean;
  connections: Set<Connection>;
}

interface Connection {
  res: ServerResponse;
  closed: boolean;
  lastEventId: string | undefined;
  caughtUp: boolean;
  /** Order of opening, for cuts. */
  serial: number;
  /** A large event is being written in slices. */
  midEvent: boolean;
  wake: (() => void) | undefined;
}

export async function startOpenCtiEmulator(options: OpenCtiEmulatorOptions): Promise<OpenCtiEmulator> {
  const tokens = new Set([options.token].flat());
  const clock = options.clock ?? Date.now;
  const heartbeatMs = options.heartbeatMs ?? 5000;
  const log = new EventLog(options.maxLength ?? 100_000);
  // Generated dates start a day back so they stay before the events that carry them, as on a real
  // platform (recovery selects objects by updated_at up to the recover date).
  const generator = new StixGenerator({ seed: options.seed ?? 1, epochMs: options.epochMs ?? clock() - 86_400_000 });
  const entities = new Map<string, StixObject>();
  const relationsByEndpoint = new Map<string, Set<string>>();
  const dependencyJson = new WeakMap<StixObject, string>();
  const streams = new Map<string, StreamState>();
  /** Cuts pending, each for the connections opened after it was set. */
  const cuts: Array<ConnectionCut & { after: number }> = [];
  let connections = 0;
  const loadStartMs = clock();

  for (const def of options.streams) {
    if (def.filters) validateFilterGroup(def.filters);
    streams.set(def.id, { def, live: def.live ?? true, connections: new Set() });
  }

  const putEntity = (stix: StixObject): void => {
    entities.set(stix.id, stix);
    if (stix.type === 'relationship') {
      for (const end of [stix.source_ref, stix.target_ref]) {
        if (typeof end !== 'string') continue;
        const set = relationsByEndpoint.get(end) ?? new Set<string>();
        set.add(stix.id);
        relationsByEndpoint.set(end, set);
      }
    }
  };
  const removeEntity = (id: string): void => {
    const stix = entities.get(id);
    entities.delete(id);
    if (stix?.type === 'relationship') {
      for (const end of [stix.source_ref, stix.target_ref]) if (typeof end === 'string') relationsByEndpoint.get(end)?.delete(id);
    }
  };
  if (options.seedReferenceData ?? true) [...markingDefinitions(), ...authorIdentities()].forEach(putEntity);

  const stampUpdate = (stix: StixObject): StixObject => {
    const now = new Date(clock()).toISOString();
    const out: StixObject = { ...stix };
    if ('modified' in stix) out.modified = now;
    const ext = octi(stix);
    if (Object.keys(ext).length > 0) out.extensions = { ...(stix.extensions as Record<string, unknown>), [OCTI_EXT]: { ...ext, updated_at: now } };
    return out;
  };

  const push = (kind: EventKind, stix: StixObject, message: string, origin: Record<string, unknown> | undefined, extra: { previous?: StixObject; context?: Record<string, unknown> } = {}): AppendedEvent => {
    // sseMiddleware.js sets `event_id` on every event it reads from Redis (kept when the stored
    // event has one, else derived from the object's updated_at and its index in the read batch).
    const payload: Record<string, unknown> = { version: '4', type: kind, scope: 'external', message, origin: origin ?? DEFAULT_ORIGIN, data: stix };
    if (extra.context) payload.context = extra.context;
    payload.event_id = `${updatedMs(stix)}-0`;
    const entry = log.append(clock(), { kind, stix, previous: extra.previous, json: JSON.stringify(payload) });
    return { id: entry.id, event: kind, stixId: stix.id };
  };

  const applyOp = (op: StreamOp): AppendedEvent | undefined => {
    switch (op.op) {
      case 'create': {
        if (typeof op.data?.id !== 'string' || typeof op.data.type !== 'string') throw new HttpError(400, 'create needs data with id and type');
        putEntity(op.data);
        return push('create', op.data, `creates a ${entityType(op.data)} \`${displayName(op.data)}\``, op.origin);
      }
      case 'update': {
        const previous = entities.get(op.id);
        if (!previous) throw new HttpError(404, `no entity ${op.id}`);
        const next = stampUpdate(op.data ?? (deepMerge(previous, op.changes ?? {}) as StixObject));
        const patch = diff(previous, next);
        // OpenCTI does not publish updates that only touch the modification dates.
        if (patch.every((p) => p.path === '/modified' || p.path === `/extensions/${OCTI_EXT}/updated_at`)) return undefined;
        const fields = [...new Set(patch.filter((p) => p.path !== '/modified' && !p.path.endsWith('/updated_at')).map((p) => p.path.split('/').at(-1)))];
        putEntity(next);
        return push('update', next, `updates \`${fields.join(', ')}\` for ${entityType(next)} \`${displayName(next)}\``, op.origin, {
          previous,
          context: { patch, reverse_patch: diff(next, previous), changes: changesOf(attributes(previous), attributes(next), STAMPS) },
        });
      }
      case 'delete': {
        const previous = entities.get(op.id);
        if (!previous) throw new HttpError(404, `no entity ${op.id}`);
        removeEntity(op.id);
        return push('delete', previous, `deletes a ${entityType(previous)} \`${displayName(previous)}\``, op.origin);
      }
      case 'merge': {
        const target = entities.get(op.targetId);
        if (!target) throw new HttpError(404, `no entity ${op.targetId}`);
        const sources = op.sourceIds.map((id) => {
          const source = entities.get(id);
          if (!source) throw new HttpError(404, `no entity ${id}`);
          return source;
        });
        const merged = deepMerge(target, op.changes ?? {}) as StixObject;
        const targetExt = octi(merged);
        const stixIds = [...((targetExt.stix_ids as string[] | undefined) ?? []), ...sources.map((s) => s.id)];
        const next = stampUpdate({ ...merged, extensions: { ...(merged.extensions as Record<string, unknown>), [OCTI_EXT]: { ...targetExt, stix_ids: stixIds } } });
        sources.forEach((s) => removeEntity(s.id));
        putEntity(next);
        return push('merge', next, `merges ${entityType(next)} \`${sources.map(displayName).join(', ')}\` in \`${displayName(next)}\``, op.origin, {
          previous: target,
          context: { patch: diff(target, next), reverse_patch: diff(next, target), sources },
        });
      }
      default:
        throw new HttpError(400, `unknown op ${(op as { op?: unknown }).op as string}`);
    }
  };

  const append = (...ops: StreamOp[]): AppendedEvent[] => {
    const out: AppendedEvent[] = [];
    for (const op of ops) {
      const event = applyOp(op);
      if (event) out.push(event);
    }
    return out;
  };

  // ---- SSE serving -------------------------------------------------------------------------------

  const dependencyPayload = (stix: StixObject): string => {
    let json = dependencyJson.get(stix);
    if (json === undefined) {
      json = JSON.stringify({ data: stix, message: `creates a ${entityType(stix)} \`${displayName(stix)}\``, origin: { referer: 'dependencies' }, version: '4' });
      dependencyJson.set(stix, json);
    }
    return json;
  };

  const refsOf = (stix: StixObject): string[] => {
    const refs: string[] = [];
    if (typeof stix.created_by_ref === 'string') refs.push(stix.created_by_ref);
    if (Array.isArray(stix.object_marking_refs)) refs.push(...(stix.object_marking_refs as string[]));
    if (typeof stix.source_ref === 'string') refs.push(stix.source_ref);
    if (typeof stix.target_ref === 'string') refs.push(stix.target_ref);
    return refs;
  };

  class ConnectionRenderer {
    readonly cache = new Set<string>();
    readonly filters: () => FilterGroup | undefined;
    readonly dependencies: boolean;
    readonly deletes: boolean;
    readonly inferences: boolean;
    constructor(filters: () => FilterGroup | undefined, dependencies: boolean, deletes: boolean, inferences: boolean) {
      this.filters = filters;
      this.dependencies = dependencies;
      this.deletes = deletes;
      this.inferences = inferences;
    }
    remember(id: string): void {
      // A bounded cache like OpenCTI's per-connection LRU: forgetting means a dependency may be re-sent.
      this.cache.delete(id);
      this.cache.add(id);
      if (this.cache.size > DEPENDENCY_CACHE_MAX) this.cache.delete(this.cache.values().next().value!);
    }
    refs(stix: StixObject, eventId: string): string {
      let out = '';
      for (const ref of refsOf(stix)) {
        if (this.cache.has(ref)) continue;
        const dep = entities.get(ref);
        if (!dep) continue;
        this.remember(ref);
        out += this.refs(dep, eventId) + sseEvent(eventId, 'create', dependencyPayload(dep));
      }
      return out;
    }
    /** Missing refs always; core relationships only when dependencies are on (sseMiddleware.js). */
    dependenciesOf(stix: StixObject, eventId: string): string {
      let out = this.refs(stix, eventId);
      if (!this.dependencies) return out;
      for (const relId of relationsByEndpoint.get(stix.id) ?? []) {
        const rel = entities.get(relId);
        if (!rel || this.cache.has(relId)) continue;
        out += this.refs(rel, eventId) + sseEvent(eventId, 'create', dependencyPayload(rel));
        this.remember(relId);
      }
      return out;
    }
    visible(stix: StixObject): boolean {
      return matchesFilterGroup(stix, this.filters());
    }
    send(eventId: string, event: string, stix: StixObject, json: string, withDependencies: boolean): Rendered {
      const deps = withDependencies ? this.dependenciesOf(stix, eventId) : '';
      this.remember(stix.id);
      return { deps, main: sseEvent(eventId, event, json) };
    }
    render(entry: LogEntry): Rendered {
      if (entry.kind === 'raw') return { deps: '', main: sseEvent(entry.id, entry.rawEvent!, entry.json) };
      const stix = entry.stix!;
      if (octi(stix).is_inferred === true && !this.inferences) return NOTHING;
      const now = this.visible(stix);
      if (entry.kind === 'update') {
        const before = this.visible(entry.previous!);
        // The visibility rewrite: leaving the filter is a `delete`, entering it a `create`.
        if (before && !now) return this.deletes ? this.send(entry.id, 'delete', stix, entry.json, false) : NOTHING;
        if (!before && now) return this.send(entry.id, 'create', stix, entry.json, true);
        if (now) return this.send(entry.id, 'update', stix, entry.json, true);
        return NOTHING;
      }
      if (!now) return NOTHING;
      if (entry.kind === 'delete') return this.deletes ? this.send(entry.id, 'delete', stix, entry.json, false) : NOTHING;
      return this.send(entry.id, entry.kind, stix, entry.json, true);
    }
  }

  const streamInfo = (connectionId: string): string => {
    const first = log.first();
    const last = log.last();
    return JSON.stringify({
      lastEventId: last?.id,
      firstEventId: first?.id,
      firstEventDate: first ? new Date(first.ms).toISOString() : undefined,
      lastEventDate: last ? new Date(last.ms).toISOString() : undefined,
      streamSize: log.size,
      connectionId,
    });
  };

  const writeChunk = async (conn: Connection, chunk: string): Promise<void> => {
    if (conn.closed || chunk === '') return;
    if (!conn.res.write(chunk)) {
      await new Promise<void>((resolve) => {
        conn.wake = resolve;
        conn.res.once('drain', resolve);
      });
      conn.wake = undefined;
    }
  };

  const heartbeatEvent = (id: string): string => sseEvent(id, 'heartbeat', JSON.stringify(new Date(Number(id.split('-')[0])).toISOString()));

  const startHeartbeat = (conn: Connection): NodeJS.Timeout =>
    setInterval(() => {
      if (conn.closed || conn.midEvent) return;
      // A reader that has caught up is at "now" (OpenCTI's synthetic id after an empty XREAD).
      const id = conn.caughtUp ? log.reserveNow(clock()) : conn.lastEventId;
      if (id === undefined) return;
      conn.lastEventId = id;
      conn.res.write(heartbeatEvent(id));
    }, heartbeatMs);

  /** Consumes one use of a cut set on this event id, if any. */
  const takeCut = (conn: Connection, eventId: string): ConnectionCut | undefined => {
    const i = cuts.findIndex((c) => c.eventId === eventId && conn.serial > c.after);
    if (i < 0) return undefined;
    const cut = cuts[i]!;
    const left = (cut.times ?? 1) - 1;
    if (left <= 0) cuts.splice(i, 1);
    else cuts[i] = { ...cut, times: left };
    return cut;
  };

  /** Writes a large string in slices so the socket's buffer, not a second copy, holds what is in flight. */
  const writeLarge = async (conn: Connection, text: string): Promise<void> => {
    // OpenCTI writes each message whole: no heartbeat may land inside this one.
    conn.midEvent = true;
    try {
      for (let at = 0; at < text.length && !conn.closed; at += WRITE_CHUNK) await writeChunk(conn, text.slice(at, at + WRITE_CHUNK));
    } finally {
      conn.midEvent = false;
    }
  };

  const tail = async (conn: Connection, renderer: ConnectionRenderer, from: number): Promise<void> => {
    let cursor = from;
    const unsubscribe = log.onAppend(() => conn.wake?.());
    try {
      while (!conn.closed) {
        if (cursor < log.firstN) cursor = log.firstN; // trimmed while this reader was behind: lost, as with MAXLEN
        if (cursor >= log.endN) {
          conn.caughtUp = true;
          await new Promise<void>((resolve) => {
            conn.wake = resolve;
          });
          conn.wake = undefined;
          continue;
        }
        conn.caughtUp = false;
        let chunk = '';
        while (cursor < log.endN && chunk.length < WRITE_CHUNK) {
          const entry = log.get(cursor)!;
          cursor += 1;
          const { deps, main } = renderer.render(entry);
          if (main === '') continue;
          const cut = takeCut(conn, entry.id);
          // What the heartbeat timer writes when it fires between the dependencies and the event.
          const race = options.heartbeatRace && deps !== '' ? heartbeatEvent(entry.id) : '';
          if (cut) {
            const partial = cut.at === 'inside' ? main.slice(0, Math.max(1, Math.floor(main.length / 2))) : '';
            // Destroyed only once the bytes left (destroying drops what is still buffered).
            await new Promise<void>((resolve) => conn.res.write(chunk + deps + race + partial, () => resolve()));
            conn.res.destroy();
            return;
          }
          conn.lastEventId = entry.id;
          if (main.length > WRITE_CHUNK) {
            await writeChunk(conn, chunk + deps + race);
            chunk = '';
            await writeLarge(conn, main);
            continue;
          }
          chunk += deps + race + main;
        }
        await writeChunk(conn, chunk);
      }
    } finally {
      unsubscribe();
    }
  };

  const serveLoad = async (conn: Connection, count: number, start: { ms: number; seq: number } | undefined): Promise<void> => {
    let i = start === undefined ? 0 : start.ms < loadStartMs ? 0 : start.ms === loadStartMs ? start.seq + 1 : count;
    const payloads = loadPayloads(options.seed ?? 1);
    while (!conn.closed && i < count) {
      let chunk = '';
      while (i < count && chunk.length < WRITE_CHUNK) {
        const id = `${loadStartMs}-${i}`;
        chunk += `id: ${id}\nevent: create\ndata: ${payloads(i)}\n\n`;
        conn.lastEventId = id;
        i += 1;
      }
      await writeChunk(conn, chunk);
    }
  };

  const header = (req: IncomingMessage, name: string): string | undefined => {
    const value = req.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };

  const refuse = (res: ServerResponse, status: number, message: string): void => {
    res.statusMessage = message;
    res.writeHead(status);
    res.end();
  };

  const handleStream = async (req: IncomingMessage, res: ServerResponse, url: URL, streamId: string): Promise<void> => {
    const auth = header(req, 'authorization');
    const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
    const authenticated = token !== undefined && tokens.has(token);
    if (auth !== undefined && !authenticated) return refuse(res, 401, 'You are not authenticated, please check your credentials');
    const stream = streams.get(streamId);
    if (!stream) return refuse(res, 401, 'You are not authorized, please check your credentials');
    if (!stream.live) return refuse(res, 410, 'This live stream is stopped');
    if (!stream.def.public && !authenticated) return refuse(res, 401, 'You are not authenticated, please check your credentials');

    const param = (name: string, ...headers: string[]): string | undefined =>
      url.searchParams.get(name) ?? headers.map((h) => header(req, h)).find((v) => v !== undefined);
    const fromParam = param('from', 'from', 'last-event-id');
    const recoverParam = param('recover', 'recover', 'recover-date');
    const start = toStreamId(fromParam);
    const recover = toStreamId(recoverParam);
    const noDependencies = (url.searchParams.get('no-dependencies') ?? header(req, 'no-dependencies') ?? url.searchParams.get('no-relationships') ?? header(req, 'no-relationships')) === 'true';
    const noDelete = (url.searchParams.get('listen-delete') ?? header(req, 'listen-delete')) === 'false';
    const withInferences = (url.searchParams.get('with-inferences') ?? header(req, 'with-inferences')) === 'true';
    if (recover !== undefined && start === undefined) return refuse(res, 500, `Error in stream ${streamId}: Recovery mode is only possible with a start date.`);

    const conn: Connection = { res, closed: false, lastEventId: fromParam === undefined || start === undefined ? undefined : `${start.ms}-${start.seq}`, caughtUp: false, midEvent: false, serial: ++connections, wake: undefined };
    stream.connections.add(conn);
    const heartbeat = startHeartbeat(conn);
    req.on('close', () => {
      conn.closed = true;
      clearInterval(heartbeat);
      stream.connections.delete(conn);
      conn.wake?.();
    });
    res.writeHead(200, SSE_HEADERS);
    const connectionId = randomUUID();
    if (stream.def.load) {
      res.write(sseEvent(undefined, 'connected', JSON.stringify({ lastEventId: `${loadStartMs}-${stream.def.load.count - 1}`, firstEventId: `${loadStartMs}-0`, firstEventDate: new Date(loadStartMs).toISOString(), lastEventDate: new Date(loadStartMs).toISOString(), streamSize: stream.def.load.count, connectionId })));
      await serveLoad(conn, stream.def.load.count, start);
      return;
    }
    res.write(sseEvent(undefined, 'connected', streamInfo(connectionId)));
    const renderer = new ConnectionRenderer(() => stream.def.filters, !noDependencies, !noDelete, withInferences);
    let from = start === undefined ? log.endN : log.positionAfter(start.ms, start.seq);
    if (recover !== undefined && start !== undefined && recover.ms > start.ms) {
      // Recovery: the current state (not the history) updated in [start, recover], as creates.
      const snapshot = [...entities.values()]
        .filter((s) => {
          const t = updatedMs(s);
          return t >= start.ms && t <= recover.ms && (octi(s).is_inferred !== true || withInferences) && renderer.visible(s);
        })
        .sort((a, b) => updatedMs(a) - updatedMs(b));
      let chunk = '';
      for (const stix of snapshot) {
        const id = `${updatedMs(stix)}-0`;
        const deps = renderer.dependenciesOf(stix, id);
        if (renderer.cache.has(stix.id)) {
          chunk += deps;
          continue;
        }
        const json = JSON.stringify({ data: stix, message: `creates a ${entityType(stix)} \`${displayName(stix)}\``, origin: { referer: 'init' }, version: '4' });
        chunk += deps + sseEvent(id, 'create', json);
        renderer.remember(stix.id);
        conn.lastEventId = id;
      }
      await writeChunk(conn, chunk);
      from = log.positionAfter(recover.ms, recover.seq);
    }
    await tail(conn, renderer, from);
  };

  // ---- GraphQL (connector registration; libs/emulators/README.md) ------------------------------

  const registry = connectorRegistry(clock, { host: 'rabbitmq', port: 5672 });
  let graphqlDown: number | undefined;

  const handleGraphql = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (graphqlDown !== undefined) return sendJson(res, graphqlDown, { error: 'Service Unavailable' });
    const body = await readJson(req);
    const auth = header(req, 'authorization');
    const token = auth?.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
    // OpenCTI answers an unauthenticated API call with a GraphQL error, HTTP 200.
    if (token === undefined || !tokens.has(token)) {
      return sendJson(res, 200, { errors: [{ message: 'You must be logged in to do this.', extensions: { code: 'AUTH_REQUIRED' } }], data: null });
    }
    return sendJson(res, 200, executeGraphql(body, graphqlOperations));
  };

  // ---- control endpoints ------------------------------------------------------------------------

  const injectMalformed = (kind: MalformedKind, opts: { size?: number } = {}): string => {
    const sample = generator.indicator('ipv4');
    const valid = JSON.stringify({ version: '4', type: 'create', scope: 'external', message: 'creates a Indicator', origin: DEFAULT_ORIGIN, data: sample });
    let rawEvent = 'create';
    let json: string;
    switch (kind) {
      case 'bad-json': json = valid.slice(0, Math.floor(valid.length / 2)); break;
      case 'unknown-event': rawEvent = 'frobnicate'; json = valid; break;
      case 'missing-fields': json = JSON.stringify({ version: '4', type: 'create', scope: 'external', message: 'creates a Indicator', origin: DEFAULT_ORIGIN }); break;
      case 'oversized': {
        const size = opts.size ?? 8 * 1024 * 1024;
        const shell = JSON.stringify({ version: '4', type: 'create', scope: 'external', message: 'creates a Indicator', origin: DEFAULT_ORIGIN, data: { ...sample, description: '' } });
        json = shell.replace('"description":""', `"description":"${'x'.repeat(Math.max(0, size - shell.length))}"`);
        break;
      }
      default: throw new HttpError(400, `unknown malformed kind ${kind as string} (one of ${MALFORMED_KINDS.join(', ')})`);
    }
    return log.append(clock(), { kind: 'raw', rawEvent, json }).id;
  };

  const getStream = (id: string): StreamState => {
    const stream = streams.get(id);
    if (!stream) throw new HttpError(404, `no stream ${id}`);
    return stream;
  };
  const dropConnections = (streamId?: string): number => {
    let count = 0;
    for (const stream of streamId === undefined ? streams.values() : [getStream(streamId)]) {
      for (const conn of stream.connections) {
        conn.res.destroy();
        count += 1;
      }
    }
    return count;
  };
  const stop = (streamId: string): void => {
    const stream = getStream(streamId);
    stream.live = false;
    for (const conn of stream.connections) conn.res.end();
  };
  const startStream = (streamId: string): void => {
    getStream(streamId).live = true;
  };
  const generate = (count: number): AppendedEvent[] => append(...randomScript(generator, count));

  // Entities of the stream by internal id (the OpenCTI extension's id) or standard id.
  const resolveEntity = (ref: string): { id: string; standard_id: string; entity_type: string } | undefined => {
    const byStandard = entities.get(ref);
    const found = byStandard ?? [...entities.values()].find((e) => octi(e).id === ref);
    if (!found) return undefined;
    const ext = octi(found);
    return { id: typeof ext.id === 'string' ? ext.id : found.id, standard_id: found.id, entity_type: typeof ext.type === 'string' ? ext.type : found.type };
  };
  const sightingsApi = new OpenCtiGraphql(resolveEntity, clock);
  const connectorOps = connectorOperations(registry, OPENCTI_ADMIN_UUID);
  const sightingOps = sightingsApi.operations();
  const graphqlOperations: Operations = { query: { ...connectorOps.query, ...sightingOps.query }, mutation: { ...connectorOps.mutation, ...sightingOps.mutation } };

  const control = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    const fields = isRecord(body) ? body : {};
    const streamAction = /^\/_emulator\/streams\/([^/]+)\/(stop|start)$/.exec(path);
    if (req.method === 'GET' && path === '/_emulator/state') {
      return sendJson(res, 200, {
        streams: [...streams.values()].map((s) => ({ id: s.def.id, name: s.def.name, live: s.live, public: s.def.public ?? false, load: s.def.load, connections: s.connections.size })),
        log: { size: log.size, maxLength: log.capacity, firstEventId: log.first()?.id, lastEventId: log.last()?.id },
        entities: entities.size,
      });
    }
    if (req.method === 'GET' && path === '/_emulator/entities') return sendJson(res, 200, [...entities.values()]);
    if (req.method === 'GET' && path === '/_emulator/sightings') return sendJson(res, 200, sightingsApi.sightings());
    if (req.method === 'POST' && path === '/_emulator/graphql/down') {
      graphqlDown = typeof fields.status === 'number' ? fields.status : undefined;
      return sendJson(res, 200, { status: fields.status ?? null });
    }
    if (req.method === 'POST' && path === '/_emulator/events') {
      const ops = (Array.isArray(body) ? body : [body]) as StreamOp[];
      return sendJson(res, 200, { events: append(...ops) });
    }
    if (req.method === 'POST' && path === '/_emulator/generate') {
      const count = Number(fields.count ?? 10);
      if (!Number.isInteger(count) || count < 1) throw new HttpError(400, 'count must be a positive integer');
      return sendJson(res, 200, { events: generate(count) });
    }
    if (req.method === 'POST' && path === '/_emulator/drop') {
      return sendJson(res, 200, { dropped: dropConnections(typeof fields.streamId === 'string' ? fields.streamId : undefined) });
    }
    if (req.method === 'POST' && path === '/_emulator/malformed') {
      return sendJson(res, 200, { id: injectMalformed(fields.kind as MalformedKind, { size: typeof fields.size === 'number' ? fields.size : undefined }) });
    }
    if (req.method === 'POST' && streamAction) {
      const [, id, action] = streamAction;
      if (action === 'stop') stop(decodeURIComponent(id!));
      else startStream(decodeURIComponent(id!));
      return sendJson(res, 200, { id: decodeURIComponent(id!), live: action === 'start' });
    }
    throw new HttpError(404, `no control endpoint ${req.method} ${path}`);
  };

  const server = await listen(
    async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://emulator');
      const path = url.pathname;
      if (path.startsWith('/_emulator/')) return control(req, res, path);
      if (req.method === 'POST' && path === '/graphql') return handleGraphql(req, res);
      const match = /^\/stream\/([^/]+)$/.exec(path);
      if (req.method === 'GET' && match) return handleStream(req, res, url, decodeURIComponent(match[1]!));
      return sendJson(res, 404, { error: 'Not found' });
    },
    options,
    (err, res) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const status = err instanceof HttpError ? err.status : 500;
      sendJson(res, status, { error: err instanceof Error ? err.message : String(err) });
    },
  );

  return {
    url: server.url,
    streamUrl: (id) => `${server.url}/stream/${encodeURIComponent(id)}`,
    generator,
    append,
    generate,
    entities: () => [...entities.values()],
    entity: (id) => entities.get(id),
    lastEventId: () => log.last()?.id,
    connectionCount: (streamId) => (streamId === undefined ? [...streams.values()] : [getStream(streamId)]).reduce((n, s) => n + s.connections.size, 0),
    dropConnections,
    stop,
    start: startStream,
    injectMalformed,
    cutConnections: (cut) => {
      cuts.push({ ...cut, after: connections });
    },
    trimHistory: (keep) => log.trim(keep),
    connectors: () => registry.list().map((c) => registry.view(c)),
    resetConnectorState: (id) => {
      registry.resetState(id);
    },
    graphqlUrl: `${server.url}/graphql`,
    sightings: () => sightingsApi.sightings(),
    identities: () => sightingsApi.identities(),
    setGraphqlDown: (down) => {
      graphqlDown = down === true ? 503 : down === false ? undefined : down;
    },
    setFilters: (streamId, filters) => {
      if (filters) validateFilterGroup(filters);
      const stream = getStream(streamId);
      stream.def = { ...stream.def, ...(filters ? { filters } : {}) };
      if (!filters) delete stream.def.filters;
    },
    close: async () => {
      for (const stream of streams.values()) for (const conn of stream.connections) conn.closed = true;
      await server.close();
    },
  };
}
