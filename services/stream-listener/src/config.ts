// stream-listener configuration: the one place its environment variables are defined. The README's
// configuration table is generated from this spec (scripts/config-docs.ts) and checked by a test.
import { ConfigError, envVar, kafkaEnv, kafkaProblems, loadConfig, observabilityEnv, openctiEnv, parse, type ConfigOf } from '@octi-defender/platform';

const START_FROM = /^(\d+(-\d+)?|\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2}))$/;

export const listenerEnv = {
  ...observabilityEnv,
  ...kafkaEnv,
  ...openctiEnv,
  openctiToken: envVar({ ...openctiEnv.openctiToken, description: 'API token of an OpenCTI user allowed to read the live streams' }),
  streamIds: envVar({
    env: 'CONNECTOR_LIVE_STREAM_ID',
    description: 'Live stream id(s) to follow (OpenCTI → Data sharing → Live streams)',
    schema: parse
      .list()
      .refine((ids) => ids.every((id) => id.toLowerCase() !== 'changeme'), 'still the placeholder ChangeMe')
      .refine((ids) => ids.every((id) => /^[A-Za-z0-9_-]+$/.test(id)), 'ids may only contain letters, digits, - and _')
      .refine((ids) => new Set(ids).size === ids.length, 'a stream id is listed twice'),
    format: 'comma-separated stream ids, e.g. 9f204482-47a4-4fa4-b88b-ff4f390f31dd',
  }),
  listenDelete: envVar({
    env: 'CONNECTOR_LIVE_STREAM_LISTEN_DELETE',
    description: 'Ask OpenCTI for delete events (needed to retract indicators)',
    schema: parse.bool(),
    default: 'true',
    format: 'true or false',
  }),
  noDependencies: envVar({
    env: 'CONNECTOR_LIVE_STREAM_NO_DEPENDENCIES',
    description: 'Ask OpenCTI not to send dependencies (markings, authors, relationships) with each event',
    schema: parse.bool(),
    default: 'true',
    format: 'true or false',
  }),
  withInferences: envVar({
    env: 'CONNECTOR_LIVE_STREAM_WITH_INFERENCES',
    description: 'Include inferred objects in the stream',
    schema: parse.bool(),
    default: 'false',
    format: 'true or false',
  }),
  recover: envVar({
    env: 'CONNECTOR_LIVE_STREAM_RECOVER',
    description: 'On a first start (no checkpoint), replay the current state of the stream as creates',
    schema: parse.bool(),
    default: 'true',
    format: 'true or false',
  }),
  startFrom: envVar({
    env: 'CONNECTOR_LIVE_STREAM_START_FROM',
    description: 'Operator override of the start position, used instead of the checkpoint (remove it after use)',
    schema: parse.string().refine((s) => START_FROM.test(s), 'not a stream id or ISO date'),
    optional: true,
    format: 'a stream event id <ms>-<seq>, 0 for the beginning, or an ISO 8601 date',
  }),
  resyncRequest: envVar({
    env: 'LISTENER_RESYNC_REQUEST',
    description:
      'Operator resync: a new value (e.g. today’s date) replays the current state of every stream and has the writers retract what the streams no longer assert, e.g. after editing a stream’s filters in OpenCTI; each value runs once',
    schema: parse.string().refine((s) => s.trim() !== '', 'empty'),
    optional: true,
    format: 'any text; change it to request another resync',
  }),
  connectorId: envVar({
    env: 'CONNECTOR_ID',
    description:
      'Registers the listener in OpenCTI as a stream connector with this id (Data → Ingestion → Connectors): it pings with its position, and a reset of its state there replays the streams from the configured start. Unset: not registered',
    schema: parse.uuid(),
    optional: true,
    format: 'a UUID (one per listener deployment)',
  }),
  connectorName: envVar({
    env: 'CONNECTOR_NAME',
    description: 'Name of the connector shown in OpenCTI (with CONNECTOR_ID)',
    schema: parse.string(),
    default: 'octi-defender stream-listener',
    format: 'text',
  }),
  connectorScope: envVar({
    env: 'CONNECTOR_SCOPE',
    description: 'Scope of the connector shown in OpenCTI (with CONNECTOR_ID)',
    schema: parse.list(),
    default: 'defender',
    format: 'comma-separated words',
  }),
  connectorPingMs: envVar({
    env: 'LISTENER_CONNECTOR_PING_MS',
    description: 'Period of the connector pings to OpenCTI carrying the position (pycti pings every 40 s; OpenCTI shows a connector silent for 5 minutes as inactive)',
    schema: parse.int({ min: 1000 }),
    default: '40000',
    format: 'milliseconds ≥ 1000',
  }),
  checkpointsTopic: envVar({
    env: 'KAFKA_TOPIC_CHECKPOINTS',
    description: 'Compacted topic holding the last published event id per stream',
    schema: parse.string(),
    default: 'stream-listener.checkpoints',
    format: 'a topic name',
  }),
  heartbeatTimeoutMs: envVar({
    env: 'LISTENER_HEARTBEAT_TIMEOUT_MS',
    description: 'Reconnect a stream silent for longer than this (OpenCTI sends a heartbeat every 5 s)',
    schema: parse.int({ min: 1000 }),
    default: '45000',
    format: 'milliseconds ≥ 1000',
  }),
  reconnectMinMs: envVar({
    env: 'LISTENER_RECONNECT_MIN_MS',
    description: 'First reconnection delay; doubles on each failure, with jitter',
    schema: parse.int({ min: 10 }),
    default: '1000',
    format: 'milliseconds',
  }),
  reconnectMaxMs: envVar({
    env: 'LISTENER_RECONNECT_MAX_MS',
    description: 'Longest reconnection delay after network errors',
    schema: parse.int({ min: 10 }),
    default: '60000',
    format: 'milliseconds',
  }),
  configErrorRetryMs: envVar({
    env: 'LISTENER_CONFIG_ERROR_RETRY_MS',
    description: 'Delay before retrying after OpenCTI answered 401/403/404/410 (a configuration problem)',
    schema: parse.int({ min: 1000 }),
    default: '300000',
    format: 'milliseconds ≥ 1000',
  }),
  queueSize: envVar({
    env: 'LISTENER_QUEUE_SIZE',
    description: 'Events buffered between the stream reader and the Kafka publisher; when full the reader waits',
    schema: parse.int({ min: 1 }),
    default: '10000',
    format: 'a positive integer',
  }),
  maxEventBytes: envVar({
    env: 'LISTENER_MAX_EVENT_BYTES',
    description: 'Largest stream event read and normalized; a larger one is skipped with a dead letter (id, size, entity) and the stream goes on. OpenCTI has no event size cap',
    schema: parse.int({ min: 1024 * 1024 }),
    default: String(64 * 1024 * 1024),
    format: 'bytes ≥ 1048576',
  }),
  maxPositionFailures: envVar({
    env: 'LISTENER_POSITION_MAX_FAILURES',
    description: 'Connections in a row that may end inside the same event before it is skipped with a stuck_position dead letter',
    schema: parse.int({ min: 1 }),
    default: '5',
    format: 'a positive integer',
  }),
  groupId: envVar({
    env: 'LISTENER_GROUP_ID',
    description: 'Names the listener deployment: its replicas elect one active member in this Kafka consumer group, which is also the transactional id that fences a stale one',
    schema: parse.string().refine((s) => /^[A-Za-z0-9._-]+$/.test(s), 'only letters, digits, ., _ and -'),
    default: 'stream-listener',
    format: 'letters, digits, ., _ and -',
  }),
  leaseTimeoutMs: envVar({
    env: 'LISTENER_LEASE_TIMEOUT_MS',
    description: 'How long a standby waits after the active listener stops heartbeating before it takes over (the Kafka session timeout of the lease group; brokers accept 6000 to 300000 by default)',
    schema: parse.int({ min: 6000 }),
    default: '30000',
    format: 'milliseconds ≥ 6000',
  }),
};

export type ListenerConfig = ConfigOf<typeof listenerEnv>;

/** Loads the spec, then checks the settings that only make sense together; one ConfigError lists all. */
export function loadListenerConfig(env: NodeJS.ProcessEnv = process.env): ListenerConfig {
  const c = loadConfig(listenerEnv, env);
  const problems = kafkaProblems(c);
  if (problems.length > 0) throw new ConfigError(problems);
  return c;
}
