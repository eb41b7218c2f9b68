// Variables every service takes: logging, the probe/metrics server, the Kafka connection.
import { envVar, parse } from './config.ts';
import type { ConfigOf } from './config.ts';

export const observabilityEnv = {
  logLevel: envVar({
    env: 'CONNECTOR_LOG_LEVEL',
    description: 'Log verbosity (same variable as the OpenCTI connectors)',
    schema: parse.oneOf(['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const),
    default: 'info',
    format: 'trace, debug, info, warn, error or fatal',
  }),
  httpPort: envVar({
    env: 'HTTP_PORT',
    description: 'Port of the /metrics, /healthz and /readyz server',
    schema: parse.int({ min: 0, max: 65535 }),
    default: '9464',
    format: 'a TCP port',
  }),
  statusIntervalMs: envVar({
    env: 'STATUS_INTERVAL_MS',
    description: 'How often the service publishes its status snapshot (selected metrics) to the octi-defender.status topic, read by `octi-defender status`',
    schema: parse.int({ min: 1000 }),
    default: '15000',
    format: 'milliseconds ≥ 1000',
  }),
  shutdownTimeoutMs: envVar({
    env: 'SHUTDOWN_TIMEOUT_MS',
    description: 'Longest graceful shutdown before the process exits anyway; keep it under the pod grace period',
    schema: parse.int({ min: 1000 }),
    default: '25000',
    format: 'milliseconds ≥ 1000',
  }),
};

export const kafkaEnv = {
  kafkaBrokers: envVar({
    env: 'KAFKA_BROKERS',
    description: 'Kafka bootstrap servers',
    schema: parse.list().refine((l) => l.every((b) => /^[^\s:]+:\d{1,5}$/.test(b)), 'each broker must be host:port'),
    format: 'comma-separated host:port list, e.g. kafka-0:9092,kafka-1:9092',
  }),
  kafkaClientId: envVar({
    env: 'KAFKA_CLIENT_ID',
    description: 'Client id sent to Kafka (defaults to the service name)',
    schema: parse.string(),
    optional: true,
    format: 'a string',
  }),
  kafkaSsl: envVar({
    env: 'KAFKA_SSL',
    description: 'Connect to Kafka over TLS (certificates are always verified)',
    schema: parse.bool(),
    default: 'false',
    format: 'true or false',
  }),
  kafkaSslCaFile: envVar({
    env: 'KAFKA_SSL_CA_FILE',
    description: 'PEM file of the CA that signed the brokers’ certificates, when not a public CA',
    schema: parse.string(),
    optional: true,
    format: 'a file path',
  }),
  kafkaSaslMechanism: envVar({
    env: 'KAFKA_SASL_MECHANISM',
    description: 'SASL mechanism; unset disables SASL',
    schema: parse.oneOf(['plain', 'scram-sha-256', 'scram-sha-512'] as const),
    optional: true,
    format: 'plain, scram-sha-256 or scram-sha-512',
  }),
  kafkaSaslUsername: envVar({
    env: 'KAFKA_SASL_USERNAME',
    description: 'SASL user name',
    schema: parse.string(),
    optional: true,
    format: 'a string',
  }),
  kafkaSaslPassword: envVar({
    env: 'KAFKA_SASL_PASSWORD',
    description: 'SASL password',
    schema: parse.string(),
    optional: true,
    secret: true,
    format: 'a string',
  }),
  commandsTopic: envVar({
    env: 'KAFKA_TOPIC_COMMANDS',
    description: 'Topic of the indicator commands (keyed by indicator key)',
    schema: parse.string(),
    default: 'opencti.indicators',
    format: 'a topic name',
  }),
  dlqTopic: envVar({
    env: 'KAFKA_TOPIC_DLQ',
    description: 'Dead-letter topic: events and commands that could not be processed, with the reason',
    schema: parse.string(),
    default: 'opencti.indicators.dlq',
    format: 'a topic name',
  }),
  controlTopic: envVar({
    env: 'KAFKA_TOPIC_CONTROL',
    description: 'Topic of operator requests (reconcile, resync, replay from the octi-defender command line) and the services’ answers',
    schema: parse.string(),
    default: 'octi-defender.control',
    format: 'a topic name',
  }),
};

/** The Kafka settings that only make sense together, checked once every variable parsed. */
export function kafkaProblems(c: ConfigOf<typeof kafkaEnv>): string[] {
  const problems: string[] = [];
  if (c.kafkaSaslMechanism && (!c.kafkaSaslUsername || !c.kafkaSaslPassword)) {
    problems.push('KAFKA_SASL_MECHANISM is set: KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD are required too');
  }
  if (!c.kafkaSaslMechanism && (c.kafkaSaslUsername || c.kafkaSaslPassword)) {
    problems.push('KAFKA_SASL_USERNAME or KAFKA_SASL_PASSWORD is set without KAFKA_SASL_MECHANISM (plain, scram-sha-256 or scram-sha-512), so SASL would stay off');
  }
  if (c.kafkaSslCaFile && !c.kafkaSsl) problems.push('KAFKA_SSL_CA_FILE is set but KAFKA_SSL is false: set KAFKA_SSL=true to connect over TLS');
  return problems;
}
