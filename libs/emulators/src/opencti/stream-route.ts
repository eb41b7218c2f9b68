// GET /stream/:id as sseMiddleware.js serves it (research/opencti.md §1): refusals, parameters, the
// `connected` event, recovery from the current state, then the log tail with heartbeats; or, for a
// load stream, generated creates as fast as the client reads.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { header } from '../http.ts';
import type { TokenCheck } from './auth.ts';
import { displayName, entityType, octi, updatedMs } from './entity-fields.ts';
import { parseStreamId, type EventLog } from './event-log.ts';
import type { ConnectionCuts } from './faults.ts';
import { loadPayloads } from './load.ts';
import { ConnectionRenderer } from './renderer.ts';
import { heartbeatEvent, SSE_HEADERS, sseEvent, WRITE_CHUNK, writeChunk, writeLarge } from './sse.ts';
import type { EntityStore } from './store.ts';
import type { Connection, StreamRegistry } from './streams.ts';

interface StreamParts {
  tokens: TokenCheck;
  streams: StreamRegistry;
  store: EntityStore;
  log: EventLog;
  cuts: ConnectionCuts;
  clock: () => number;
  heartbeatMs: number;
  /** A heartbeat with an event's id between its dependencies and the event (OpenCTI's timer firing between its awaits). */
  heartbeatRace: boolean;
  /** Seed of the load streams' generated payloads. */
  seed: number;
  /** Time part of the load streams' event ids. */
  loadStartMs: number;
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

/** OpenCTI refuses with the reason as the HTTP status message and no body. */
function refuse(res: ServerResponse, status: number, message: string): void {
  res.statusMessage = message;
  res.writeHead(status);
  res.end();
}

export function streamRoute(parts: StreamParts): (req: IncomingMessage, res: ServerResponse, url: URL, streamId: string) => Promise<void> {
  const { log, cuts } = parts;

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

  const startHeartbeat = (conn: Connection): NodeJS.Timeout =>
    setInterval(() => {
      if (conn.closed || conn.midEvent) return;
      // A reader that has caught up is at "now" (OpenCTI's synthetic id after an empty XREAD).
      const id = conn.caughtUp ? log.reserveNow(parts.clock()) : conn.lastEventId;
      if (id === undefined) return;
      conn.lastEventId = id;
      conn.res.write(heartbeatEvent(id));
    }, parts.heartbeatMs);

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
          const cut = cuts.take(conn.serial, entry.id);
          // What the heartbeat timer writes when it fires between the dependencies and the event.
          const race = parts.heartbeatRace && deps !== '' ? heartbeatEvent(entry.id) : '';
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
    const loadStartMs = parts.loadStartMs;
    let i = start === undefined ? 0 : start.ms < loadStartMs ? 0 : start.ms === loadStartMs ? start.seq + 1 : count;
    const payloads = loadPayloads(parts.seed);
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

  return async (req, res, url, streamId) => {
    const authenticated = parts.tokens.check(req);
    if (authenticated === false) return refuse(res, 401, 'You are not authenticated, please check your credentials');
    const stream = parts.streams.find(streamId);
    if (!stream) return refuse(res, 401, 'You are not authorized, please check your credentials');
    if (!stream.live) return refuse(res, 410, 'This live stream is stopped');
    if (!stream.def.public && authenticated !== true) return refuse(res, 401, 'You are not authenticated, please check your credentials');

    const param = (name: string, ...headers: string[]): string | undefined => url.searchParams.get(name) ?? headers.map((h) => header(req, h)).find((v) => v !== undefined);
    const fromParam = param('from', 'from', 'last-event-id');
    const recoverParam = param('recover', 'recover', 'recover-date');
    const start = toStreamId(fromParam);
    const recover = toStreamId(recoverParam);
    const noDependencies = (url.searchParams.get('no-dependencies') ?? header(req, 'no-dependencies') ?? url.searchParams.get('no-relationships') ?? header(req, 'no-relationships')) === 'true';
    const noDelete = (url.searchParams.get('listen-delete') ?? header(req, 'listen-delete')) === 'false';
    const withInferences = (url.searchParams.get('with-inferences') ?? header(req, 'with-inferences')) === 'true';
    if (recover !== undefined && start === undefined) return refuse(res, 500, `Error in stream ${streamId}: Recovery mode is only possible with a start date.`);

    const conn: Connection = {
      res,
      closed: false,
      lastEventId: fromParam === undefined || start === undefined ? undefined : `${start.ms}-${start.seq}`,
      caughtUp: false,
      midEvent: false,
      serial: ++parts.streams.opened,
      wake: undefined,
    };
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
      const { loadStartMs } = parts;
      res.write(
        sseEvent(
          undefined,
          'connected',
          JSON.stringify({
            lastEventId: `${loadStartMs}-${stream.def.load.count - 1}`,
            firstEventId: `${loadStartMs}-0`,
            firstEventDate: new Date(loadStartMs).toISOString(),
            lastEventDate: new Date(loadStartMs).toISOString(),
            streamSize: stream.def.load.count,
            connectionId,
          }),
        ),
      );
      await serveLoad(conn, stream.def.load.count, start);
      return;
    }
    res.write(sseEvent(undefined, 'connected', streamInfo(connectionId)));
    const renderer = new ConnectionRenderer(parts.store, { filters: () => stream.def.filters, dependencies: !noDependencies, deletes: !noDelete, inferences: withInferences });
    let from = start === undefined ? log.endN : log.positionAfter(start.ms, start.seq);
    if (recover !== undefined && start !== undefined && recover.ms > start.ms) {
      // Recovery: the current state (not the history) updated in [start, recover], as creates.
      const snapshot = parts.store.values()
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
}
