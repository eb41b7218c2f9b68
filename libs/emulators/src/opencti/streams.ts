// The live stream collections (definition, live switch, filters) and their open connections.
import type { ServerResponse } from 'node:http';
import { HttpError } from '../http.ts';
import { validateFilterGroup, type FilterGroup } from './filters.ts';

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

/** One open SSE connection. */
export interface Connection {
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

interface StreamState {
  def: StreamDefinition;
  live: boolean;
  connections: Set<Connection>;
}

export class StreamRegistry {
  readonly #streams = new Map<string, StreamState>();
  /** Connections opened so far (the last serial handed out). */
  opened = 0;

  constructor(definitions: readonly StreamDefinition[]) {
    for (const def of definitions) {
      if (def.filters) validateFilterGroup(def.filters);
      this.#streams.set(def.id, { def, live: def.live ?? true, connections: new Set() });
    }
  }

  find(id: string): StreamState | undefined {
    return this.#streams.get(id);
  }

  /** The stream, or a 404 for the control endpoints. */
  get(id: string): StreamState {
    const stream = this.#streams.get(id);
    if (!stream) throw new HttpError(404, `no stream ${id}`);
    return stream;
  }

  all(): StreamState[] {
    return [...this.#streams.values()];
  }

  connectionCount(streamId?: string): number {
    return (streamId === undefined ? this.all() : [this.get(streamId)]).reduce((n, s) => n + s.connections.size, 0);
  }

  /** Destroys the sockets of open connections (all streams when omitted); returns how many. */
  drop(streamId?: string): number {
    let count = 0;
    for (const stream of streamId === undefined ? this.all() : [this.get(streamId)]) {
      for (const conn of stream.connections) {
        conn.res.destroy();
        count += 1;
      }
    }
    return count;
  }

  /** stream_live = false: new connections get 410 and open ones are ended. */
  stop(streamId: string): void {
    const stream = this.get(streamId);
    stream.live = false;
    for (const conn of stream.connections) conn.res.end();
  }

  start(streamId: string): void {
    this.get(streamId).live = true;
  }

  /** A filter edit: open connections apply it from their next event. */
  setFilters(streamId: string, filters: FilterGroup | undefined): void {
    if (filters) validateFilterGroup(filters);
    const stream = this.get(streamId);
    stream.def = { ...stream.def, ...(filters ? { filters } : {}) };
    if (!filters) delete stream.def.filters;
  }

  /** Marks every connection closed (the server is going away). */
  closeAll(): void {
    for (const stream of this.all()) for (const conn of stream.connections) conn.closed = true;
  }
}
