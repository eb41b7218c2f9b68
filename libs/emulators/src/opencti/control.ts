// The /_emulator control endpoints of the OpenCTI emulator (libs/emulators/README.md): state,
// entities, sightings, events, generation, drops, malformed events, stream stop/start, API outage.
import { isRecord } from '@octi-defender/indicators';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, readJson, sendJson } from '../http.ts';
import type { EventLog } from './event-log.ts';
import type { AppendedEvent } from './event-writer.ts';
import type { GraphqlOutage, MalformedKind } from './faults.ts';
import type { StreamOp } from './ops.ts';
import type { OpenCtiGraphql } from './sightings.ts';
import type { EntityStore } from './store.ts';
import type { StreamRegistry } from './streams.ts';

export interface ControlParts {
  streams: StreamRegistry;
  store: EntityStore;
  log: EventLog;
  sightings: OpenCtiGraphql;
  outage: GraphqlOutage;
  append: (...ops: StreamOp[]) => AppendedEvent[];
  generate: (count: number) => AppendedEvent[];
  injectMalformed: (kind: MalformedKind, options?: { size?: number }) => string;
}

export function controlEndpoints(parts: ControlParts): (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void> {
  const { streams, store, log } = parts;
  return async (req, res, path) => {
    const body = req.method === 'POST' ? await readJson(req) : undefined;
    const fields = isRecord(body) ? body : {};
    const streamAction = /^\/_emulator\/streams\/([^/]+)\/(stop|start)$/.exec(path);
    if (req.method === 'GET' && path === '/_emulator/state') {
      return sendJson(res, 200, {
        streams: streams.all().map((s) => ({ id: s.def.id, name: s.def.name, live: s.live, public: s.def.public ?? false, load: s.def.load, connections: s.connections.size })),
        log: { size: log.size, maxLength: log.capacity, firstEventId: log.first()?.id, lastEventId: log.last()?.id },
        entities: store.size,
      });
    }
    if (req.method === 'GET' && path === '/_emulator/entities') return sendJson(res, 200, store.values());
    if (req.method === 'GET' && path === '/_emulator/sightings') return sendJson(res, 200, parts.sightings.sightings());
    if (req.method === 'POST' && path === '/_emulator/graphql/down') {
      parts.outage.status = typeof fields.status === 'number' ? fields.status : undefined;
      return sendJson(res, 200, { status: fields.status ?? null });
    }
    if (req.method === 'POST' && path === '/_emulator/events') {
      const ops = (Array.isArray(body) ? body : [body]) as StreamOp[];
      return sendJson(res, 200, { events: parts.append(...ops) });
    }
    if (req.method === 'POST' && path === '/_emulator/generate') {
      const count = Number(fields.count ?? 10);
      if (!Number.isInteger(count) || count < 1) throw new HttpError(400, 'count must be a positive integer');
      return sendJson(res, 200, { events: parts.generate(count) });
    }
    if (req.method === 'POST' && path === '/_emulator/drop') {
      return sendJson(res, 200, { dropped: streams.drop(typeof fields.streamId === 'string' ? fields.streamId : undefined) });
    }
    if (req.method === 'POST' && path === '/_emulator/malformed') {
      return sendJson(res, 200, { id: parts.injectMalformed(fields.kind as MalformedKind, { size: typeof fields.size === 'number' ? fields.size : undefined }) });
    }
    if (req.method === 'POST' && streamAction) {
      const [, id, action] = streamAction;
      if (action === 'stop') streams.stop(decodeURIComponent(id!));
      else streams.start(decodeURIComponent(id!));
      return sendJson(res, 200, { id: decodeURIComponent(id!), live: action === 'start' });
    }
    throw new HttpError(404, `no control endpoint ${req.method} ${path}`);
  };
}
