// OpenCTI emulator: the live streams (GET /stream/:id as sseMiddleware.js serves it, research/opencti.md
// §1) over an in-memory bounded event log, the GraphQL API (connectors, sightings), and /_emulator
// control endpoints for tests and the demo, composed of its parts: store, event log and writer, auth,
// faults, streams, routes and control.
import type { ListenOptions } from '../http.ts';
import { HttpError, listen, sendJson } from '../http.ts';
import { TokenCheck } from './auth.ts';
import { connectorOperations, connectorRegistry } from './connectors.ts';
import { EventLog } from './event-log.ts';
import { EventWriter, type AppendedEvent } from './event-writer.ts';
import { ConnectionCuts, GraphqlOutage, malformedEvent, type ConnectionCut, type MalformedKind } from './faults.ts';
import type { FilterGroup } from './filters.ts';
import { controlEndpoints } from './control.ts';
import { randomScript } from './ops.ts';
import type { StreamOp } from './ops.ts';
import { platformRoutes } from './routes.ts';
import { OpenCtiGraphql, type EmulatedIdentity, type EmulatedSighting } from './sightings.ts';
import { authorIdentities, markingDefinitions, OPENCTI_ADMIN_UUID, StixGenerator } from './stix.ts';
import type { StixObject } from './stix.ts';
import { EntityStore } from './store.ts';
import { streamRoute } from './stream-route.ts';
import { StreamRegistry, type StreamDefinition } from './streams.ts';

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

export async function startOpenCtiEmulator(options: OpenCtiEmulatorOptions): Promise<OpenCtiEmulator> {
  const tokens = new TokenCheck(options.token);
  const clock = options.clock ?? Date.now;
  const log = new EventLog(options.maxLength ?? 100_000);
  // Generated dates start a day back so they stay before the events that carry them, as on a real
  // platform (recovery selects objects by updated_at up to the recover date).
  const generator = new StixGenerator({ seed: options.seed ?? 1, epochMs: options.epochMs ?? clock() - 86_400_000 });
  const store = new EntityStore();
  const streams = new StreamRegistry(options.streams);
  const cuts = new ConnectionCuts();
  const outage = new GraphqlOutage();
  const loadStartMs = clock();
  if (options.seedReferenceData ?? true) [...markingDefinitions(), ...authorIdentities()].forEach((stix) => store.put(stix));

  const writer = new EventWriter(store, log, clock);
  const append = (...ops: StreamOp[]): AppendedEvent[] => writer.append(...ops);
  const generate = (count: number): AppendedEvent[] => append(...randomScript(generator, count));
  // A malformed event is delivered to every stream regardless of filters.
  const injectMalformed = (kind: MalformedKind, opts: { size?: number } = {}): string => log.append(clock(), { kind: 'raw', ...malformedEvent(kind, generator.indicator('ipv4'), opts) }).id;

  const registry = connectorRegistry(clock, { host: 'rabbitmq', port: 5672 });
  const sightings = new OpenCtiGraphql((ref) => store.resolve(ref), clock);
  const connectorOps = connectorOperations(registry, OPENCTI_ADMIN_UUID);
  const sightingOps = sightings.operations();
  const routes = platformRoutes({
    tokens,
    outage,
    operations: { query: { ...connectorOps.query, ...sightingOps.query }, mutation: { ...connectorOps.mutation, ...sightingOps.mutation } },
    stream: streamRoute({ tokens, streams, store, log, cuts, clock, heartbeatMs: options.heartbeatMs ?? 5000, heartbeatRace: options.heartbeatRace === true, seed: options.seed ?? 1, loadStartMs }),
  });
  const control = controlEndpoints({ streams, store, log, sightings, outage, append, generate, injectMalformed });

  const server = await listen(
    async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://emulator');
      if (url.pathname.startsWith('/_emulator/')) return control(req, res, url.pathname);
      return routes(req, res, url);
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
    entities: () => store.values(),
    entity: (id) => store.get(id),
    lastEventId: () => log.last()?.id,
    connectionCount: (streamId) => streams.connectionCount(streamId),
    dropConnections: (streamId) => streams.drop(streamId),
    stop: (streamId) => streams.stop(streamId),
    start: (streamId) => streams.start(streamId),
    injectMalformed,
    cutConnections: (cut) => cuts.add(cut, streams.opened),
    trimHistory: (keep) => log.trim(keep),
    connectors: () => registry.list().map((c) => registry.view(c)),
    resetConnectorState: (id) => {
      registry.resetState(id);
    },
    graphqlUrl: `${server.url}/graphql`,
    sightings: () => sightings.sightings(),
    identities: () => sightings.identities(),
    setGraphqlDown: (down) => outage.set(down),
    setFilters: (streamId, filters) => streams.setFilters(streamId, filters),
    close: async () => {
      streams.closeAll();
      await server.close();
    },
  };
}
