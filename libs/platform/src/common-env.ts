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

/** The OpenCTI platform a service talks to (the stream-listener reads its streams, sighting-reporter its GraphQL API). */
export const openctiEnv = {
  openctiUrl: envVar({
    env: 'OPENCTI_URL',
    description: 'Base URL of the OpenCTI platform',
    schema: parse.url(),
    format: 'an http(s) URL, e.g. https://opencti.example.com',
  }),
  openctiToken: envVar({
    env: 'OPENCTI_TOKEN',
    description: 'API token of an OpenCTI user',
    schema: parse.string(),
    secret: true,
    format: 'an OpenCTI API token',
  }),
  openctiSslVerify: envVar({
    env: 'OPENCTI_SSL_VERIFY',
    description: 'Verify OpenCTI’s TLS certificate (turn off only for a lab)',
    schema: parse.bool(),
    default: 'true',
    format: 'true or false',
  }),
  openctiCaFile: envVar({
    env: 'OPENCTI_SSL_CA_FILE',
    description: 'PEM file of the CA that signed OpenCTI’s certificate, when not a public CA',
    schema: parse.string(),
    optional: true,
    format: 'a file path',
  }),
};

/**
 * The Defender tenant and the Entra app a service signs in with (the names of the OpenCTI Microsoft
 * Defender Intel connectors), shared by defender-writer and sighting-reporter.
 */
export const defenderEnv = {
  tenantId: envVar({
    env: 'MICROSOFT_DEFENDER_INTEL_TENANT_ID',
    description: 'Entra tenant id of the Defender tenant',
    schema: parse.string().refine((s) => /^[A-Za-z0-9.-]+$/.test(s), 'a tenant GUID or domain'),
    format: 'a GUID or a domain such as contoso.onmicrosoft.com',
  }),
  clientId: envVar({
    env: 'MICROSOFT_DEFENDER_INTEL_CLIENT_ID',
    description: 'Application (client) id of the Entra app',
    schema: parse.uuid(),
    format: 'a GUID',
  }),
  clientSecret: envVar({
    env: 'MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET',
    description: 'Client secret of the Entra app',
    schema: parse.string(),
    secret: true,
    format: 'a client secret',
  }),
  loginUrl: envVar({
    env: 'MICROSOFT_DEFENDER_INTEL_LOGIN_URL',
    description: 'Entra sign-in host (https://login.microsoftonline.us for GCC High/DoD)',
    schema: parse.url({ protocols: ['https:'] }),
    default: 'https://login.microsoftonline.com',
    format: 'an https URL',
  }),
  tokenEndpoint: envVar({
    env: 'MICROSOFT_DEFENDER_INTEL_TOKEN_ENDPOINT',
    description: 'For emulators/testing only: a token endpoint URL used instead of <login url>/<tenant>/oauth2/v2.0/token (may be plain http)',
    schema: parse.url(),
    optional: true,
    format: 'an http(s) URL',
  }),
  baseUrl: envVar({
    env: 'MICROSOFT_DEFENDER_INTEL_BASE_URL',
    description: 'Defender API base URL (regional or government hosts work too)',
    schema: parse.url(),
    default: 'https://api.securitycenter.microsoft.com',
    format: 'an http(s) URL',
  }),
  scope: envVar({
    env: 'MICROSOFT_DEFENDER_INTEL_SCOPE',
    description: 'OAuth scope of the token; must name the WindowsDefenderATP resource, whatever the base URL',
    schema: parse.string(),
    default: 'https://api.securitycenter.microsoft.com/.default',
    format: '<resource>/.default',
  }),
};
