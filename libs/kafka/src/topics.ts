// The project's topics, in one place, as plain data: services create them at start-up, and the docs
// and deployment manifests are generated from / checked against topicDefinitions().
import type { TopicDefinition } from './port.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

type TopicRole = 'commands' | 'checkpoints' | 'dlq' | 'control' | 'state' | 'status' | 'sightings';

export interface ProjectTopic extends TopicDefinition {
  readonly role: TopicRole;
  readonly description: string;
}

interface TopicSettings {
  readonly commandsTopic: string;
  readonly commandsPartitions: number;
  readonly checkpointsTopic: string;
  readonly dlqTopic: string;
  readonly dlqPartitions: number;
  /** Operator requests (reconcile, resync, replay) and the services' answers to them. */
  readonly controlTopic: string;
  /** Compacted: the services' status snapshots, keyed by service and instance (libs/platform status publisher). */
  readonly statusTopic: string;
  /** `{tenant}` is replaced by the tenant name. */
  readonly stateTopicTemplate: string;
  /** Undefined: the broker's default.replication.factor. */
  readonly replicationFactor?: number;
}

export const defaultTopicSettings: TopicSettings = {
  commandsTopic: 'opencti.indicators',
  commandsPartitions: 12,
  checkpointsTopic: 'stream-listener.checkpoints',
  dlqTopic: 'opencti.indicators.dlq',
  dlqPartitions: 3,
  controlTopic: 'octi-defender.control',
  statusTopic: 'octi-defender.status',
  stateTopicTemplate: 'defender-writer.{tenant}.state',
};

// Kafka's rule for topic names.
const LEGAL_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

function checkName(name: string): string {
  if (!LEGAL_NAME.test(name) || name === '.' || name === '..') {
    throw new Error(`invalid Kafka topic name "${name}" (1-249 of a-z A-Z 0-9 . _ -)`);
  }
  return name;
}

function checkPartitions(what: string, n: number): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, got ${n}`);
  return n;
}

export function stateTopicName(tenant: string, settings: Pick<TopicSettings, 'stateTopicTemplate'> = defaultTopicSettings): string {
  if (!settings.stateTopicTemplate.includes('{tenant}')) {
    throw new Error(`state topic template "${settings.stateTopicTemplate}" lacks {tenant}`);
  }
  return checkName(settings.stateTopicTemplate.replaceAll('{tenant}', tenant));
}

/** sighting-reporter's topic of a tenant: its polling position and per-day sighting records. */
const SIGHTINGS_TOPIC_TEMPLATE = 'sighting-reporter.{tenant}.sightings';

export function sightingsTopicName(tenant: string, template: string = SIGHTINGS_TOPIC_TEMPLATE): string {
  if (!template.includes('{tenant}')) throw new Error(`sightings topic template "${template}" lacks {tenant}`);
  return checkName(template.replaceAll('{tenant}', tenant));
}

// Compacted topics: the active segment is never compacted, so roll segments daily even when the
// topic is quiet; keep tombstones a day so a restore that is running sees deletions.
const compacted = {
  'cleanup.policy': 'compact',
  'segment.ms': String(DAY_MS),
  'min.compaction.lag.ms': String(60 * 60 * 1000),
  'delete.retention.ms': String(DAY_MS),
  'min.cleanable.dirty.ratio': '0.1',
} as const;

/**
 * The concrete topics for the given settings. State topics (one per Defender tenant) have as many
 * partitions as the commands topic: partition p of a state topic is the changelog of partition p
 * of the commands topic.
 */
export function topicDefinitions(overrides: Partial<TopicSettings> = {}, tenants: readonly string[] = []): ProjectTopic[] {
  const s: TopicSettings = { ...defaultTopicSettings, ...overrides };
  const commandsPartitions = checkPartitions('commands partitions', s.commandsPartitions);
  const rf = s.replicationFactor === undefined ? {} : { replicationFactor: checkPartitions('replication factor', s.replicationFactor) };
  const topics: ProjectTopic[] = [
    {
      role: 'commands',
      name: checkName(s.commandsTopic),
      partitions: commandsPartitions,
      ...rf,
      config: { 'cleanup.policy': 'delete', 'retention.ms': String(7 * DAY_MS) },
      description: 'Indicator commands (upsert/retract) from stream-listener, keyed by indicator key',
    },
    {
      role: 'checkpoints',
      name: checkName(s.checkpointsTopic),
      partitions: 1,
      ...rf,
      config: { ...compacted },
      description: 'Last OpenCTI stream event id acknowledged per stream, keyed by stream id',
    },
    {
      role: 'dlq',
      name: checkName(s.dlqTopic),
      partitions: checkPartitions('DLQ partitions', s.dlqPartitions),
      ...rf,
      config: { 'cleanup.policy': 'delete', 'retention.ms': String(30 * DAY_MS) },
      description: 'Events and commands that could not be processed, with the reason in headers',
    },
    {
      role: 'control',
      name: checkName(s.controlTopic),
      // One partition: requests and their answers in one order, read by every service.
      partitions: 1,
      ...rf,
      config: { 'cleanup.policy': 'delete', 'retention.ms': String(7 * DAY_MS) },
      description: "Operator requests (reconcile, resync, replay) from the command line and the services' progress and completion answers",
    },
    {
      role: 'status',
      name: checkName(s.statusTopic),
      partitions: 1,
      ...rf,
      // Snapshots are small and replaced every few seconds: compact hourly segments. An instance
      // stopped gracefully leaves a tombstone; a crashed one's last snapshot stays (one small record)
      // and readers tell it by its age.
      config: { ...compacted, 'segment.ms': String(60 * 60 * 1000), 'min.compaction.lag.ms': '0' },
      description: 'Status snapshots of each service instance (selected metrics, with a timestamp), keyed by service/instance; read by `octi-defender status`',
    },
  ];
  for (const tenant of tenants) {
    topics.push({
      role: 'state',
      name: stateTopicName(tenant, s),
      partitions: commandsPartitions,
      ...rf,
      config: { ...compacted },
      description: `defender-writer state of tenant ${tenant} per indicator key; partition p mirrors commands partition p`,
    });
  }
  const names = new Set(topics.map((t) => t.name));
  if (names.size !== topics.length) throw new Error(`topic names must be distinct: ${topics.map((t) => t.name).join(', ')}`);
  return topics;
}

/**
 * sighting-reporter's compacted topic of one tenant (one partition: one reporter per tenant writes it,
 * in order). Not part of topicDefinitions(): the reporter is optional, and a deployment creates it
 * for the tenants that run one.
 */
export function sightingsTopicDefinition(tenant: string, opts: { readonly name?: string; readonly replicationFactor?: number } = {}): ProjectTopic {
  return {
    role: 'sightings',
    name: opts.name === undefined ? sightingsTopicName(tenant) : checkName(opts.name),
    partitions: 1,
    ...(opts.replicationFactor === undefined ? {} : { replicationFactor: checkPartitions('replication factor', opts.replicationFactor) }),
    config: { ...compacted },
    description: `sighting-reporter position and per-day sighting records of tenant ${tenant}`,
  };
}
