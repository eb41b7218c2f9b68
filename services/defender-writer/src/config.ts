// defender-writer configuration: the one place its environment variables are defined. Names follow
// the OpenCTI Microsoft Defender Intel connectors (MICROSOFT_DEFENDER_INTEL_*) where those exist, so
// an existing deployment's variables carry over; the rest are DEFENDER_* and WRITER_*.
import { getHeapStatistics } from 'node:v8';
import { ConfigError, defenderEnv, envVar, kafkaEnv, kafkaProblems, loadConfig, observabilityEnv, parse, type ConfigOf, type EnvVar } from '@octi-defender/platform';
import { INDICATOR_TYPES, type IndicatorType } from './defender/model.ts';
import { CONFIGURED_ACTIONS, Safelist, normalizeTlp, type ConfiguredAction, type Policy, type ScoreRule } from './core/policy.ts';

/** A parser built from a conversion that throws with a readable message on bad input. */
function converted<T>(convert: (s: string) => T): EnvVar<T>['schema'] {
  return parse.string().transform((s, ctx) => {
    try {
      return convert(s);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
      return undefined as never;
    }
  });
}

function jsonObject(s: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    throw new Error('not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
  return v as Record<string, unknown>;
}

function days(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 3650) throw new Error(`${what}: days must be an integer from 1 to 3650`);
  return v;
}

/** `["a","b"]` (the synchronizer's form) or `a,b`. */
export function parseNameList(s: string): string[] {
  if (s.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch {
      throw new Error('not a valid JSON array');
    }
    if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string' && x.trim() !== '')) {
      throw new Error('must be a JSON array of non-empty strings');
    }
    return v.map((x) => x.trim());
  }
  return s.split(',').map((x) => x.trim()).filter((x) => x !== '');
}

export function parseExpirationDays(s: string): Partial<Record<IndicatorType, number>> {
  const out: Partial<Record<IndicatorType, number>> = {};
  for (const [k, v] of Object.entries(jsonObject(s))) {
    if (!(INDICATOR_TYPES as readonly string[]).includes(k)) throw new Error(`unknown indicator type ${k} (one of ${INDICATOR_TYPES.join(', ')})`);
    out[k as IndicatorType] = days(v, k);
  }
  return out;
}

function parseTlpDays(s: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(jsonObject(s))) out[normalizeTlp(k)] = days(v, k);
  return out;
}

/** `60:Block,30:Audit,1:Warn,0:Audit`: the first rule whose threshold the score reaches wins. */
export function parseScoreRules(s: string): ScoreRule[] {
  const rules = s.split(',').map((part) => {
    const m = /^\s*(\d{1,3})\s*:\s*([A-Za-z]+)\s*$/.exec(part);
    const min = Number(m?.[1]);
    const action = m?.[2] as ConfiguredAction;
    if (!m || min > 100 || !CONFIGURED_ACTIONS.includes(action)) throw new Error(`bad rule ${JSON.stringify(part.trim())}`);
    return { min, action };
  });
  rules.sort((a, b) => b.min - a.min);
  if (new Set(rules.map((r) => r.min)).size !== rules.length) throw new Error('a threshold is listed twice');
  if (rules.at(-1)?.min !== 0) throw new Error('needs a rule for threshold 0 so every score maps to an action');
  return rules;
}

const ms = (min: number) => parse.int({ min });

export const writerEnv = {
  ...observabilityEnv,
  // Not the listener's 9464, so both services run on one machine with their defaults.
  httpPort: envVar({ ...observabilityEnv.httpPort, default: '9465' }),
  ...kafkaEnv,
  tenantName: envVar({
    env: 'WRITER_TENANT_NAME',
    description: 'Short name of the Defender tenant; names the consumer group and the state topic (one writer Deployment per tenant)',
    schema: parse.string().refine((s) => /^[a-z0-9][a-z0-9._-]{0,62}$/.test(s), 'lower-case letters, digits, . _ - only (≤ 63)'),
    format: 'a name such as contoso-prod',
  }),
  consumerGroup: envVar({
    env: 'KAFKA_CONSUMER_GROUP',
    description: 'Consumer group of this tenant’s writers (default defender-writer.<tenant>)',
    schema: parse.string(),
    optional: true,
    format: 'a group id',
  }),
  stateTopic: envVar({
    env: 'KAFKA_TOPIC_STATE',
    description: 'Compacted changelog of the per-indicator state (default defender-writer.<tenant>.state)',
    schema: parse.string(),
    optional: true,
    format: 'a topic name',
  }),
  ...defenderEnv,
  clientId: envVar({ ...defenderEnv.clientId, description: 'Application (client) id of the Entra app granted Ti.ReadWrite.All' }),
  application: envVar({
    env: 'DEFENDER_APPLICATION_NAME',
    description: 'The indicators’ application field: shown to users and used to find this writer’s indicators (set on create only, never change it once running)',
    schema: parse.string(),
    default: 'OpenCTI Defender Sync',
    format: 'a string',
  }),
  expireDays: envVar({
    env: 'MICROSOFT_DEFENDER_INTEL_EXPIRE_TIME',
    description: 'Days an indicator lives in Defender after the OpenCTI event that last asserted it',
    schema: parse.int({ min: 1, max: 3650 }),
    default: '30',
    format: 'days, 1 to 3650',
  }),
  expireDaysByType: envVar({
    env: 'DEFENDER_EXPIRATION_DAYS',
    description: 'Per-type expiration overriding MICROSOFT_DEFENDER_INTEL_EXPIRE_TIME',
    schema: converted(parseExpirationDays),
    default: '{}',
    format: 'a JSON object indicator type → days, e.g. {"IpAddress":7,"FileSha256":365}',
  }),
  action: envVar({
    env: 'MICROSOFT_DEFENDER_INTEL_ACTION',
    description: 'One action for every indicator instead of the score rules (Alert → Audit with an alert, AlertAndBlock → Block or BlockAndRemediate per type)',
    schema: parse.oneOf(CONFIGURED_ACTIONS),
    optional: true,
    format: CONFIGURED_ACTIONS.join(', '),
  }),
  scoreActions: envVar({
    env: 'DEFENDER_SCORE_ACTIONS',
    description: 'Score → action rules when no fixed action is set; the default is the OpenCTI stream connector’s mapping',
    schema: converted(parseScoreRules),
    default: '60:Block,30:Audit,1:Warn,0:Audit',
    format: 'comma-separated <min score>:<action>, including 0',
  }),
  minScore: envVar({
    env: 'DEFENDER_MIN_SCORE',
    description: 'Indicators scored below this are not sent (a missing score counts as 0)',
    schema: parse.int({ min: 0, max: 100 }),
    default: '0',
    format: '0 to 100',
  }),
  tlpNever: envVar({
    env: 'DEFENDER_TLP_NEVER',
    description: 'Markings whose indicators are never sent',
    schema: converted((s) => parseNameList(s).map(normalizeTlp)),
    default: 'TLP:RED',
    format: 'comma-separated marking names',
  }),
  tlpExpireDays: envVar({
    env: 'DEFENDER_TLP_EXPIRATION_DAYS',
    description: 'Per-marking expiration replacing the per-type one (the shortest wins when several match)',
    schema: converted(parseTlpDays),
    default: '{}',
    format: 'a JSON object marking → days, e.g. {"TLP:CLEAR":7}',
  }),
  safelist: envVar({
    env: 'DEFENDER_SAFELIST',
    description: 'Domains (subdomains included), IPs and CIDRs never blocked, warned or audited; URLs on those hosts too',
    schema: converted((s) => new Safelist(parseNameList(s))),
    default: '[]',
    format: 'comma-separated or JSON array, e.g. example.com,192.0.2.10,198.51.100.0/24',
  }),
  rbacGroupNames: envVar({
    env: 'MICROSOFT_DEFENDER_INTEL_RBAC_GROUP_NAMES',
    description: 'Device groups the indicators apply to; empty = all devices',
    schema: converted(parseNameList),
    default: '[]',
    format: 'a JSON array or comma-separated names',
  }),
  recommendedActions: envVar({
    env: 'MICROSOFT_DEFENDER_INTEL_RECOMMENDED_ACTIONS',
    description: 'Text of the indicators’ recommendedActions field',
    schema: parse.string(),
    optional: true,
    format: 'a string',
  }),
  educateUrl: envVar({
    env: 'MICROSOFT_DEFENDER_INTEL_EDUCATE_URL',
    description: 'Support URL shown on a block or warning; Defender accepts it only on Url indicators with Block or Warn, so it is sent only there',
    schema: parse.url({ protocols: ['https:', 'http:'] }),
    optional: true,
    format: 'an http(s) URL',
  }),
  generateAlert: envVar({
    env: 'DEFENDER_GENERATE_ALERT',
    description: 'Raise a Defender alert when an indicator matches; always true for Audit, which Defender requires',
    schema: parse.bool(),
    default: 'true',
    format: 'true or false',
  }),
  titleMaxLength: envVar({
    env: 'DEFENDER_TITLE_MAX_LENGTH',
    description: 'Longest title sent; longer names are cut at a word boundary with …',
    schema: parse.int({ min: 16, max: 4000 }),
    default: '250',
    format: '16 to 4000',
  }),
  descriptionMaxLength: envVar({
    env: 'DEFENDER_DESCRIPTION_MAX_LENGTH',
    description: 'Longest description sent (Defender’s limit is undocumented; the OpenCTI connectors use 99)',
    schema: parse.int({ min: 16, max: 4000 }),
    default: '99',
    format: '16 to 4000',
  }),
  maxIndicators: envVar({
    env: 'MICROSOFT_DEFENDER_INTEL_MAX_INDICATORS',
    description:
      'Active indicators this tenant’s writers may hold together at most; what they hold is the smaller of this and what other creators leave under DEFENDER_TENANT_INDICATOR_LIMIT; each writer keeps its share, strongest first',
    schema: parse.int({ min: 1, max: 15000 }),
    default: '15000',
    format: '1 to 15000',
  }),
  tenantLimit: envVar({
    env: 'DEFENDER_TENANT_INDICATOR_LIMIT',
    description: 'Defender’s limit of active indicators per tenant, shared by every creator (documented: 15000); a lower limit Defender enforces is learned from its refusals',
    schema: parse.int({ min: 1 }),
    default: '15000',
    format: 'integer ≥ 1',
  }),
  foreignCheckMs: envVar({
    env: 'WRITER_FOREIGN_CHECK_MS',
    description:
      'Before an import, indicators other creators added since the last look are listed when that look is older than this (divided by the writer’s partition share: the tenant’s writers together list at most once per interval); 0 = only at assignments and reconciliations',
    schema: parse.int({ min: 0 }),
    default: '3000',
    format: 'milliseconds, 0 = off',
  }),
  dryRun: envVar({
    env: 'MICROSOFT_DEFENDER_INTEL_PASSIVE_ONLY',
    description: 'Dry run: log the exact import and BatchDelete bodies instead of sending them (reads still go out)',
    schema: parse.bool(),
    default: 'false',
    format: 'true or false',
  }),
  importPerMinute: envVar({
    env: 'DEFENDER_QUOTA_IMPORT_PER_MINUTE',
    description: 'The tenant’s import calls per minute, shared by all its writers',
    schema: parse.int({ min: 1 }),
    default: '30',
    format: 'calls per minute',
  }),
  batchDeletePerMinute: envVar({
    env: 'DEFENDER_QUOTA_BATCH_DELETE_PER_MINUTE',
    description: 'The tenant’s BatchDelete calls per minute',
    schema: parse.int({ min: 1 }),
    default: '30',
    format: 'calls per minute',
  }),
  batchDeletePerHour: envVar({
    env: 'DEFENDER_QUOTA_BATCH_DELETE_PER_HOUR',
    description: 'The tenant’s BatchDelete calls per hour',
    schema: parse.int({ min: 1 }),
    default: '1500',
    format: 'calls per hour',
  }),
  listPerMinute: envVar({
    env: 'DEFENDER_QUOTA_LIST_PER_MINUTE',
    description: 'The tenant’s list calls per minute',
    schema: parse.int({ min: 1 }),
    default: '100',
    format: 'calls per minute',
  }),
  listPerHour: envVar({
    env: 'DEFENDER_QUOTA_LIST_PER_HOUR',
    description: 'The tenant’s list calls per hour',
    schema: parse.int({ min: 1 }),
    default: '1500',
    format: 'calls per hour',
  }),
  connectTimeoutMs: envVar({
    env: 'DEFENDER_HTTP_CONNECT_TIMEOUT_MS',
    description: 'TCP/TLS connect timeout to the Defender API',
    schema: ms(100),
    default: '10000',
    format: 'milliseconds',
  }),
  requestTimeoutMs: envVar({
    env: 'DEFENDER_HTTP_TIMEOUT_MS',
    description: 'Longest wait for a response’s headers, then its body, per attempt',
    schema: ms(100),
    default: '120000',
    format: 'milliseconds',
  }),
  maxRetries: envVar({
    env: 'DEFENDER_HTTP_MAX_RETRIES',
    description: 'Retries of a call after 5xx, 408, 429 or a network error',
    schema: parse.int({ min: 0, max: 20 }),
    default: '5',
    format: '0 to 20',
  }),
  retryBaseMs: envVar({
    env: 'DEFENDER_RETRY_BASE_MS',
    description: 'First retry delay; doubles per attempt, with full jitter',
    schema: ms(1),
    default: '1000',
    format: 'milliseconds',
  }),
  retryMaxMs: envVar({
    env: 'DEFENDER_RETRY_MAX_MS',
    description: 'Longest retry delay within one call; a longer Retry-After is honoured in full by ending the call (the writer pauses until then, and the endpoint takes no call before it)',
    schema: ms(1),
    default: '120000',
    format: 'milliseconds',
  }),
  breakerErrorPercent: envVar({
    env: 'DEFENDER_BREAKER_ERROR_PERCENT',
    description: 'Failed-call percentage over the window that opens the circuit breaker',
    schema: parse.int({ min: 1, max: 100 }),
    default: '50',
    format: '1 to 100',
  }),
  breakerVolumeThreshold: envVar({
    env: 'DEFENDER_BREAKER_VOLUME_THRESHOLD',
    description: 'Calls in the window before the breaker may open',
    schema: parse.int({ min: 0 }),
    default: '5',
    format: 'a count',
  }),
  breakerWindowMs: envVar({
    env: 'DEFENDER_BREAKER_WINDOW_MS',
    description: 'Rolling window of the breaker statistics',
    schema: ms(1000),
    default: '60000',
    format: 'milliseconds',
  }),
  breakerResetMs: envVar({
    env: 'DEFENDER_BREAKER_RESET_MS',
    description: 'How long the breaker stays open before a half-open probe',
    schema: ms(100),
    default: '30000',
    format: 'milliseconds',
  }),
  reconcileIntervalMs: envVar({
    env: 'WRITER_RECONCILE_INTERVAL_MS',
    description: 'How often the reconciler compares Defender with the state of this writer’s partitions and repairs drift; 0 disables the schedule',
    schema: parse.int({ min: 0 }),
    default: '3600000',
    format: 'milliseconds, 0 = off',
  }),
  lagIntervalMs: envVar({
    env: 'WRITER_LAG_INTERVAL_MS',
    description: 'How often the consumer lag per partition is measured for the metrics',
    schema: parse.int({ min: 1000 }),
    default: '30000',
    format: 'milliseconds ≥ 1000',
  }),
  sessionTimeoutMs: envVar({
    env: 'WRITER_SESSION_TIMEOUT_MS',
    description: 'Kafka session timeout of the writers’ group: how long a dead writer keeps its partitions before another takes over',
    schema: parse.int({ min: 6000 }),
    default: '30000',
    format: 'milliseconds ≥ 6000',
  }),
  fetchBytesPerPartition: envVar({
    env: 'WRITER_FETCH_BYTES_PER_PARTITION',
    description:
      'Most command bytes fetched per partition at once: bounds a batch and the memory it takes (one fetch holds at most this times the partitions a broker leads for the writer, and at most 10 MiB per broker)',
    schema: parse.int({ min: 16384, max: 10485760 }),
    default: '1048576',
    format: 'bytes, 16384 to 10485760',
  }),
  catchUpLag: envVar({
    env: 'WRITER_CATCH_UP_LAG',
    description:
      'While any partition is more than this many commands behind, batches update the state only and Defender is synced once all caught up (every partition within a tenth of this): a backlog costs the final difference, not every intermediate cap decision; 0 syncs every batch',
    schema: parse.int({ min: 0 }),
    default: '1000',
    format: 'commands, 0 = off',
  }),
  catchUpMaxMs: envVar({
    env: 'WRITER_CATCH_UP_MAX_MS',
    description: 'Longest time Defender syncs are deferred while catching up; then one sync runs and deferral starts again',
    schema: parse.int({ min: 1000 }),
    default: '60000',
    format: 'milliseconds ≥ 1000',
  }),
  stateDir: envVar({
    env: 'WRITER_STATE_DIR',
    description: 'Directory of the local state database: a disposable cache of the changelog, rebuilt on every start (about 1 KB per indicator key of the writer’s partitions)',
    schema: parse.string(),
    default: '/tmp',
    format: 'a writable directory',
  }),
  stateCacheMb: envVar({
    env: 'WRITER_STATE_CACHE_MB',
    description: 'V8 heap taken by decoded per-key states kept in front of the local state database (the hot layer); at most a quarter of the heap limit (--max-old-space-size in NODE_OPTIONS)',
    schema: parse.int({ min: 1 }),
    default: '16',
    format: 'MiB ≥ 1',
  }),
  retryPauseMs: envVar({
    env: 'WRITER_RETRY_PAUSE_MS',
    description: 'Pause before re-processing a batch whose Defender calls failed transiently while the breaker stayed closed (doubles per failure, up to 60 s)',
    schema: parse.int({ min: 10 }),
    default: '5000',
    format: 'milliseconds',
  }),
  // Detection as the tenant's policy.
  requireDetection: envVar({
    env: 'DEFENDER_REQUIRE_DETECTION',
    description:
      'Send only indicators whose OpenCTI detection flag is true (observables, which have none, still go); false ignores the flag, as OpenCTI’s Defender stream connector does (OpenCTI stores detection=false unless someone sets it)',
    schema: parse.bool(),
    default: 'false',
    format: 'true or false',
  }),
  // Exactness against Defender's own behaviour (per-item failures, outages).
  itemMaxAttempts: envVar({
    env: 'WRITER_ITEM_MAX_ATTEMPTS',
    description:
      'Attempts of an indicator whose import fails per item for a reason Defender does not explain (no validation, throttling or cap wording) before it is dead-lettered with Defender’s text (defender_failed); the rest of the partition proceeds meanwhile',
    schema: parse.int({ min: 1, max: 100 }),
    default: '5',
    format: '1 to 100',
  }),
  breakerConsecutiveFailures: envVar({
    env: 'DEFENDER_BREAKER_CONSECUTIVE_FAILURES',
    description: 'Failed attempts in a row (5xx, no answer, unreachable; 429 excluded) that open the circuit breaker whatever the window’s error percentage; 0 = only the percentage rule',
    schema: parse.int({ min: 0, max: 1000 }),
    default: '5',
    format: 'a count, 0 = off',
  }),
};

type WriterEnv = ConfigOf<typeof writerEnv>;

export interface WriterConfig extends WriterEnv {
  readonly consumerGroup: string;
  readonly stateTopic: string;
}

/**
 * Loads the spec, then checks the rules that span several variables; one ConfigError lists all.
 * `heapLimitBytes` is V8's heap limit of the process (set by --max-old-space-size in NODE_OPTIONS).
 */
export function loadWriterConfig(env: NodeJS.ProcessEnv = process.env, heapLimitBytes = getHeapStatistics().heap_size_limit): WriterConfig {
  const c = loadConfig(writerEnv, env);
  const problems = kafkaProblems(c);
  // The cache is old-space memory next to a batch's working set (a plan of up to 5,000 keys, a
  // fetch's commands): beyond a quarter of the limit the process would die of an out-of-memory
  // error mid-batch instead of refusing the setting at start.
  const heapLimitMb = Math.floor(heapLimitBytes / 2 ** 20);
  if (c.stateCacheMb * 4 > heapLimitMb) {
    problems.push(`WRITER_STATE_CACHE_MB (${c.stateCacheMb}) must be at most a quarter of the V8 heap limit (${heapLimitMb} MiB): lower it, or raise --max-old-space-size in NODE_OPTIONS`);
  }
  if (c.retryBaseMs > c.retryMaxMs) problems.push('DEFENDER_RETRY_BASE_MS must not exceed DEFENDER_RETRY_MAX_MS');
  if (c.tlpNever.some((m) => m in c.tlpExpireDays)) {
    problems.push('DEFENDER_TLP_EXPIRATION_DAYS names a marking that DEFENDER_TLP_NEVER excludes');
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...c,
    consumerGroup: c.consumerGroup ?? `defender-writer.${c.tenantName}`,
    stateTopic: c.stateTopic ?? `defender-writer.${c.tenantName}.state`,
  };
}

export function policyFromConfig(c: WriterEnv): Policy {
  return {
    application: c.application,
    fixedAction: c.action,
    scoreRules: c.scoreActions,
    minScore: c.minScore,
    requireDetection: c.requireDetection,
    expireDays: c.expireDays,
    expireDaysByType: c.expireDaysByType,
    tlpNever: new Set(c.tlpNever),
    tlpExpireDays: c.tlpExpireDays,
    safelist: c.safelist,
    rbacGroupNames: c.rbacGroupNames,
    recommendedActions: c.recommendedActions,
    educateUrl: c.educateUrl,
    generateAlert: c.generateAlert,
    titleMaxLength: c.titleMaxLength,
    descriptionMaxLength: c.descriptionMaxLength,
  };
}
