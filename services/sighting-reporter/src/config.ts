// sighting-reporter configuration: the one place its environment variables are defined. The README's
// configuration table is generated from this spec (scripts/config-docs.ts). Defender and OpenCTI
// variables keep the names the other services (and OpenCTI's connectors) use.
import { sightingsTopicName } from '@octi-defender/kafka';
import { ConfigError, defenderEnv, envVar, kafkaEnv, kafkaProblems, loadConfig, observabilityEnv, openctiEnv, parse, type ConfigOf } from '@octi-defender/platform';

const { commandsTopic: _commands, dlqTopic: _dlq, ...kafkaConnection } = kafkaEnv;

const ms = (min: number) => parse.int({ min });

export const reporterEnv = {
  ...observabilityEnv,
  // Not the listener's 9464 nor the writer's 9465, so all three run on one machine with their defaults.
  httpPort: envVar({ ...observabilityEnv.httpPort, default: '9466' }),
  ...kafkaConnection,
  tenantName: envVar({
    env: 'REPORTER_TENANT_NAME',
    description: 'Short name of the Defender tenant (the writer’s WRITER_TENANT_NAME); names the state topic (one reporter Deployment per tenant)',
    schema: parse.string().refine((s) => /^[a-z0-9][a-z0-9._-]{0,62}$/.test(s), 'lower-case letters, digits, . _ - only (≤ 63)'),
    format: 'a name such as contoso-prod',
  }),
  stateTopic: envVar({
    env: 'KAFKA_TOPIC_SIGHTINGS',
    description: 'Compacted topic of the reporter’s position and per-day sighting records (default sighting-reporter.<tenant>.sightings)',
    schema: parse.string(),
    optional: true,
    format: 'a topic name',
  }),
  whereName: envVar({
    env: 'REPORTER_WHERE_SIGHTED_NAME',
    description: 'Name of the OpenCTI identity (a System) the sightings are attributed to as where_sighted; created if missing (default "Microsoft Defender for Endpoint (<tenant>)")',
    schema: parse.string(),
    optional: true,
    format: 'a name',
  }),
  ...openctiEnv,
  openctiUrl: envVar({ ...openctiEnv.openctiUrl, description: 'Base URL of the OpenCTI platform (its GraphQL API is <url>/graphql)' }),
  openctiToken: envVar({ ...openctiEnv.openctiToken, description: 'API token of an OpenCTI user allowed to create identities and sightings (knowledge update)' }),
  ...defenderEnv,
  clientId: envVar({ ...defenderEnv.clientId, description: 'Application (client) id of the writer’s Entra app, granted Alert.Read.All as well: its indicators are the ones matched' }),
  pollIntervalMs: envVar({
    env: 'REPORTER_POLL_INTERVAL_MS',
    description: 'Time between two polls of the alerts',
    schema: ms(1000),
    default: '60000',
    format: 'milliseconds ≥ 1000',
  }),
  overlapMs: envVar({
    env: 'REPORTER_OVERLAP_MS',
    description:
      'Each poll reads again the alerts updated this long before the position (late-indexed alerts, shifted pages, alerts on indicators listed since); re-read alerts are never counted twice',
    schema: ms(0),
    default: '600000',
    format: 'milliseconds',
  }),
  lookbackMs: envVar({
    env: 'REPORTER_INITIAL_LOOKBACK_MS',
    description: 'On the first start (no position yet), report alerts updated this long ago and later',
    schema: ms(0),
    default: '86400000',
    format: 'milliseconds',
  }),
  pageSize: envVar({
    env: 'REPORTER_ALERTS_PAGE_SIZE',
    description: 'Alerts per call ($top, at most 10,000)',
    schema: parse.int({ min: 1, max: 10_000 }),
    default: '1000',
    format: '1 to 10000',
  }),
  alertsPerMinute: envVar({
    env: 'DEFENDER_QUOTA_ALERTS_PER_MINUTE',
    description: 'The tenant’s alerts API calls per minute (documented: 100)',
    schema: parse.int({ min: 1 }),
    default: '100',
    format: 'calls per minute',
  }),
  alertsPerHour: envVar({
    env: 'DEFENDER_QUOTA_ALERTS_PER_HOUR',
    description: 'The tenant’s alerts API calls per hour (documented: 1,500)',
    schema: parse.int({ min: 1 }),
    default: '1500',
    format: 'calls per hour',
  }),
  retentionDays: envVar({
    env: 'REPORTER_RETENTION_DAYS',
    description: 'Days a per-day record (its alert ids) is kept; alerts whose first event is older are not counted, so a count never restarts from a forgotten day',
    schema: parse.int({ min: 1, max: 3650 }),
    default: '30',
    format: 'days, 1 to 3650',
  }),
  ownedRefreshMs: envVar({
    env: 'REPORTER_OWNED_REFRESH_MS',
    description: 'Least time between two listings of this application’s indicators (to match evidence); an alert matching nothing triggers one once this has passed',
    schema: ms(1000),
    default: '300000',
    format: 'milliseconds ≥ 1000',
  }),
  listShare: envVar({
    env: 'REPORTER_LIST_QUOTA_SHARE',
    description: 'Share of the tenant’s indicator list quota (100/min, 1,500/h) the reporter may use; the writers use the rest',
    schema: z01(),
    default: '0.1',
    format: 'a number in (0, 1]',
  }),
  requestTimeoutMs: envVar({
    env: 'REPORTER_HTTP_TIMEOUT_MS',
    description: 'Longest wait for a Defender or OpenCTI response, per attempt',
    schema: ms(100),
    default: '60000',
    format: 'milliseconds',
  }),
  retryMaxMs: envVar({
    env: 'REPORTER_RETRY_MAX_MS',
    description: 'Longest pause after repeated failures (Defender, OpenCTI); the pause doubles from 1 s up to this',
    schema: ms(1000),
    default: '120000',
    format: 'milliseconds ≥ 1000',
  }),
};

function z01() {
  return parse.string().refine((s) => /^(0?\.\d+|1(\.0+)?)$/.test(s) && Number(s) > 0 && Number(s) <= 1, 'a number in (0, 1]').transform(Number);
}

type ReporterEnv = ConfigOf<typeof reporterEnv>;
export type ReporterConfig = Omit<ReporterEnv, 'stateTopic' | 'whereName'> & { readonly stateTopic: string; readonly whereName: string };

export function loadReporterConfig(env: NodeJS.ProcessEnv = process.env): ReporterConfig {
  const c = loadConfig(reporterEnv, env);
  const problems = kafkaProblems({ ...c, commandsTopic: '', dlqTopic: '' });
  // An alert on an indicator imported after the last listing matches nothing until the next listing:
  // it must still be in the overlap then, so that a later poll reads it again and counts it.
  if (c.ownedRefreshMs * 2 > c.overlapMs) {
    problems.push('REPORTER_OWNED_REFRESH_MS must be at most half of REPORTER_OVERLAP_MS (an alert on an indicator listed late is read again only within the overlap)');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...c,
    stateTopic: c.stateTopic ?? sightingsTopicName(c.tenantName),
    whereName: c.whereName ?? `Microsoft Defender for Endpoint (${c.tenantName})`,
  };
}
