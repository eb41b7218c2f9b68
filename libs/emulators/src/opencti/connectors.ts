// OpenCTI's connector registry as the platform keeps it, for the GraphQL operations pycti and the UI
// use: registerConnector, pingConnector, resetStateConnector, deleteConnector, connectors, connector.
// The platform behaviour each follows is written down in libs/emulators/README.md (OpenCTI
// connector registration).
import { isRecord } from '@octi-defender/indicators';
import { GraphQlError, project, type Operations, type Selection } from './graphql.ts';

const CONNECTOR_TYPES = ['EXTERNAL_IMPORT', 'INTERNAL_IMPORT_FILE', 'INTERNAL_ENRICHMENT', 'INTERNAL_ANALYSIS', 'INTERNAL_EXPORT_FILE', 'STREAM'] as const;

/** A connector is active while its last registration or ping is less than 5 minutes old. */
const ACTIVE_WINDOW_MS = 5 * 60 * 1000;

export interface ConnectorInfo {
  run_and_terminate: boolean | null;
  buffering: boolean | null;
  queue_threshold: number | null;
  queue_messages_size: number | null;
  next_run_datetime: string | null;
  last_run_datetime: string | null;
}

/** What the platform stores for a connector. */
interface StoredConnector {
  id: string;
  name: string;
  connector_type: string;
  /** Comma-joined as stored; null when registered without a scope. */
  connector_scope: string | null;
  auto: boolean | null;
  auto_update: boolean | null;
  enrichment_resolution: string | null;
  only_contextual: boolean | null;
  playbook_compatible: boolean;
  listen_callback_uri: string | null;
  connector_user_id: string;
  /** Absent until the first ping carries one; '' after a reset from the UI. */
  connector_state: string | null;
  connector_state_reset: boolean;
  connector_state_timestamp: string;
  connector_info: ConnectorInfo | null;
  built_in: boolean;
  created_at: string;
  updated_at: string;
}

interface ConnectorRegistry {
  register(input: Record<string, unknown>, userId: string): StoredConnector;
  ping(id: string, state: unknown, info: unknown): StoredConnector;
  resetState(id: string): StoredConnector;
  remove(id: string): string;
  get(id: string): StoredConnector | undefined;
  list(): StoredConnector[];
  /** The GraphQL `Connector` object of a stored connector (derived fields included). */
  view(c: StoredConnector): Record<string, unknown>;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

export function connectorRegistry(clock: () => number, rabbit: { host: string; port: number }): ConnectorRegistry {
  const stored = new Map<string, StoredConnector>();
  const nowIso = (): string => new Date(clock()).toISOString();

  const find = (id: string): StoredConnector => {
    const c = stored.get(id);
    if (!c) throw new GraphQlError('No connector found with the specified ID', 'FUNCTIONAL_ERROR');
    return c;
  };

  const register = (input: Record<string, unknown>, userId: string): StoredConnector => {
    const id = str(input.id);
    const name = str(input.name);
    const type = str(input.type);
    if (!id || !name || !type) throw new GraphQlError('RegisterConnectorInput needs id, name and type', 'BAD_USER_INPUT');
    if (!(CONNECTOR_TYPES as readonly string[]).includes(type)) throw new GraphQlError(`Value "${type}" does not exist in "ConnectorType" enum.`, 'BAD_USER_INPUT');
    const scope = Array.isArray(input.scope) ? input.scope.filter((s): s is string => typeof s === 'string') : [];
    const fields = {
      name,
      connector_type: type,
      connector_scope: scope.length > 0 ? scope.join(',') : null,
      auto: bool(input.auto),
      auto_update: bool(input.auto_update),
      enrichment_resolution: str(input.enrichment_resolution),
      only_contextual: bool(input.only_contextual),
      playbook_compatible: bool(input.playbook_compatible) ?? false,
      listen_callback_uri: str(input.listen_callback_uri),
      connector_user_id: userId,
      built_in: false,
      updated_at: nowIso(),
    };
    const existing = stored.get(id);
    // A registration updates the connector's description and leaves its state alone.
    const next: StoredConnector = existing
      ? { ...existing, ...fields }
      : { id, ...fields, connector_state: null, connector_state_reset: false, connector_state_timestamp: nowIso(), connector_info: null, created_at: nowIso() };
    stored.set(id, next);
    return next;
  };

  const ping = (id: string, state: unknown, info: unknown): StoredConnector => {
    const c = find(id);
    // The ping after a reset only clears the flag: the state stays '' and updated_at does not move,
    // so the connector sees the reset in the answer.
    const patch: Partial<StoredConnector> = c.connector_state_reset
      ? { connector_state_reset: false }
      : { updated_at: nowIso(), connector_state: str(state) };
    if (info !== null && typeof info === 'object') {
      const i = info as Record<string, unknown>;
      patch.connector_info = {
        run_and_terminate: bool(i.run_and_terminate),
        buffering: bool(i.buffering),
        queue_threshold: num(i.queue_threshold),
        queue_messages_size: num(i.queue_messages_size),
        next_run_datetime: str(i.next_run_datetime),
        last_run_datetime: str(i.last_run_datetime),
      };
    }
    const next = { ...c, ...patch };
    stored.set(id, next);
    return next;
  };

  const resetState = (id: string): StoredConnector => {
    const next = { ...find(id), connector_state: '', connector_state_reset: true, connector_state_timestamp: nowIso() };
    stored.set(id, next);
    return next;
  };

  const view = (c: StoredConnector): Record<string, unknown> => ({
    id: c.id,
    name: c.name,
    title: c.name,
    is_managed: false,
    active: c.built_in || clock() - Date.parse(c.updated_at) < ACTIVE_WINDOW_MS,
    auto: c.auto,
    auto_update: c.auto_update,
    enrichment_resolution: c.enrichment_resolution,
    only_contextual: c.only_contextual,
    playbook_compatible: c.playbook_compatible,
    listen_callback_uri: c.listen_callback_uri,
    connector_type: c.connector_type,
    connector_scope: c.connector_scope ? c.connector_scope.split(',') : [],
    connector_state: c.connector_state,
    connector_state_reset: c.connector_state_reset,
    connector_state_timestamp: c.connector_state_timestamp,
    connector_user_id: c.connector_user_id,
    connector_info: c.connector_info,
    connector_queue_details: { messages_number: 0, messages_size: 0 },
    config: {
      connection: { host: rabbit.host, vhost: '/', use_ssl: false, port: rabbit.port, user: 'guest', pass: 'guest' },
      listen: `listen_${c.id}`,
      listen_routing: `listen_routing_${c.id}`,
      listen_exchange: 'amqp.connector.exchange',
      listen_callback_uri: c.listen_callback_uri,
      push: `push_${c.id}`,
      push_routing: `push_routing_${c.id}`,
      push_exchange: 'amqp.worker.exchange',
      dead_letter_routing: 'dead_letter_routing',
    },
    built_in: c.built_in,
    created_at: c.created_at,
    updated_at: c.updated_at,
  });

  return {
    register,
    ping,
    resetState,
    remove: (id) => {
      find(id);
      stored.delete(id);
      return id;
    },
    get: (id) => stored.get(id),
    list: () => [...stored.values()],
    view,
  };
}

/** The connector operations of the GraphQL API (pycti's connector client and OpenCTI's UI), answers projected on their selection. */
export function connectorOperations(registry: ConnectorRegistry, userId: string): Operations {
  const answer = (value: unknown, sel: Selection): unknown => project(value, sel.selections, 'Connector');
  return {
    query: {
      connectors: (_args, sel) => answer(registry.list().map((c) => registry.view(c)), sel),
      connector: (args, sel) => {
        const c = registry.get(String(args.id));
        return answer(c ? registry.view(c) : null, sel);
      },
    },
    mutation: {
      registerConnector: (args, sel) => answer(registry.view(registry.register(isRecord(args.input) ? args.input : {}, userId)), sel),
      pingConnector: (args, sel) => answer(registry.view(registry.ping(String(args.id), args.state, args.connectorInfo)), sel),
      resetStateConnector: (args, sel) => answer(registry.view(registry.resetState(String(args.id))), sel),
      deleteConnector: (args, sel) => answer(registry.remove(String(args.id)), sel),
    },
  };
}
