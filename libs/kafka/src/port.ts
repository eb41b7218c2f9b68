// The Kafka port: everything the services need from a Kafka client and nothing more, so the client
// (kafkajs today, see ./kafkajs) can be replaced without touching the services. Offsets are bigint
// (Kafka offsets are int64); a committed offset is always the NEXT offset to read.

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface TopicPartitionOffset extends TopicPartition {
  readonly offset: bigint;
}

export type HeaderValue = string | Buffer;

export interface OutgoingRecord {
  readonly topic: string;
  /** Decides the partition (Java-compatible murmur2), so every record about one key stays in order. */
  readonly key: string;
  /** `null` is a tombstone: it deletes the key from a compacted topic. */
  readonly value: Buffer | string | null;
  readonly headers?: Readonly<Record<string, HeaderValue>>;
}

/** One acknowledged partition of a send: its records got offsets `baseOffset`, `baseOffset + 1`, … in send order. */
export interface PublishAck extends TopicPartition {
  readonly baseOffset: bigint;
}

export interface IncomingRecord extends TopicPartition {
  readonly offset: bigint;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Readonly<Record<string, Buffer>>;
  /** Milliseconds since the epoch (create time unless the topic uses log-append time). */
  readonly timestamp: number;
}

export interface Batch extends TopicPartition {
  /** Never empty. */
  readonly records: readonly IncomingRecord[];
  /**
   * Last offset of the fetched data, including transaction markers after the last record: commit
   * `lastOffset + 1n` once the whole batch is processed so the consumer lag can reach zero.
   */
  readonly lastOffset: bigint;
  readonly highWatermark: bigint;
  /**
   * Marks records up to `offset` (inclusive) processed: the consumer moves past them (nothing is
   * committed). Records not resolved when the handler returns are delivered again, so a handler
   * that pauses its partition without resolving gets the same records after `resume`.
   */
  resolveOffset(offset: bigint): void;
  /**
   * Sends a heartbeat now (at most one per heartbeat interval). The adapter already heartbeats while
   * the handler runs, so a long batch (a slow call, a long wait) does not get this member evicted.
   */
  heartbeat(): Promise<void>;
  /** False once the consumer is closing: stop early, resolve what is done. */
  isRunning(): boolean;
  /** True when a rebalance or seek made this batch obsolete: stop processing it. */
  isStale(): boolean;
}

export type BatchHandler = (batch: Batch) => Promise<void>;

export interface ConsumerOptions {
  readonly groupId: string;
  readonly topics: readonly string[];
  /** Where a partition without a committed offset starts. Default true (earliest). */
  readonly fromBeginning?: boolean;
  /**
   * Newly assigned partitions. No batch of these partitions reaches the handler before the returned
   * promise settles (restore per-partition state here). A rejection fails the consumer, which rejoins
   * and calls this again.
   */
  readonly onAssigned?: (partitions: readonly TopicPartition[]) => Promise<void>;
  /**
   * Each completed group join, with this member's whole assignment, possibly empty (more members than
   * partitions). Called after onRevoked/onAssigned are queued; it does not wait for them.
   */
  readonly onJoined?: (assignment: readonly TopicPartition[]) => void;
  /** Partitions this member lost (rebalance, close or crash). */
  readonly onRevoked?: (partitions: readonly TopicPartition[]) => Promise<void>;
  /**
   * The consumer stopped for good: the handler or the client failed with an error kafkajs does not
   * restart on. Nothing is consumed any more; the service should report itself unhealthy.
   */
  readonly onFailed?: (error: Error) => void;
  /**
   * The lease ended before its time: a heartbeat was answered REBALANCE_IN_PROGRESS,
   * UNKNOWN_MEMBER_ID or ILLEGAL_GENERATION, or the client rejoins or crashed. Stop work that needs
   * the assignment (see Consumer.leaseRemainingMs); the next join renews it.
   */
  readonly onLeaseLost?: (reason: string) => void;
  /** The lease ends this long before the session timeout would (default: a fifth of it, ≥ 1 s). */
  readonly leaseMarginMs?: number;
  readonly sessionTimeoutMs?: number;
  readonly rebalanceTimeoutMs?: number;
  /** Default: a tenth of the session timeout, at least 500 ms. */
  readonly heartbeatIntervalMs?: number;
  readonly maxBytesPerPartition?: number;
  /** Longest a fetch waits for new data (also bounds how long close() waits). Default 500. */
  readonly maxWaitTimeMs?: number;
  /** Batches of distinct partitions processed concurrently. Default 1. */
  readonly partitionsConsumedConcurrently?: number;
}

export interface PartitionLag extends TopicPartition {
  /** Next offset the group will read, null when the group never committed on this partition. */
  readonly committed: bigint | null;
  /** Last stable offset (end of committed data). */
  readonly end: bigint;
  /** `end - committed`, or `end - start` of the partition when nothing is committed. */
  readonly lag: bigint;
}

/** A group member reading committed data only (read_committed), committing manually only. */
export interface Consumer {
  /** Joins the group and starts delivering batches; resolves once running. */
  run(handler: BatchHandler): Promise<void>;
  /** Commits the given next-to-read offsets for the group. */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  pause(partitions: readonly TopicPartition[]): void;
  resume(partitions: readonly TopicPartition[]): void;
  paused(): TopicPartition[];
  /** Partitions currently assigned to this member. */
  assignment(): TopicPartition[];
  /**
   * How long this member's assignment is still certainly its own, in ms (0: not any more, or not yet):
   * the session timeout minus the lease margin, counted from when the last heartbeat (or join) the
   * broker accepted was sent, and 0 from a rebalance or eviction answer until the next join. The
   * broker gives no partition of this member to another before the session timeout has passed
   * since it received that heartbeat, so work checked against a positive lease cannot overlap
   * with the next owner's (a partition kept across a join stays owned throughout: a join after an
   * eviction, or after a generation this member missed, revokes and assigns everything again).
   */
  leaseRemainingMs(): number;
  /**
   * Committed vs end offsets for every partition of the subscribed topics. Rejects with
   * ConsumerClosedError once close() was called, and opens no connection then.
   */
  lag(): Promise<PartitionLag[]>;
  /**
   * Stops fetching, waits for the running batch, leaves the group. A lag() in flight stops at its
   * next request (ConsumerClosedError) and is waited for, so nothing it opened outlives the close.
   */
  close(): Promise<void>;
}

/** Idempotent producer, acks from all in-sync replicas. */
export interface Producer {
  send(records: readonly OutgoingRecord[]): Promise<PublishAck[]>;
  close(): Promise<void>;
}

export interface Transaction {
  send(records: readonly OutgoingRecord[]): Promise<PublishAck[]>;
  /** Commits a consumer group's offsets atomically with the transaction (consume-process-produce). */
  sendOffsets(groupId: string, offsets: readonly TopicPartitionOffset[]): Promise<void>;
}

export interface TransactionalProducer {
  readonly transactionalId: string;
  /**
   * Runs `work` in one transaction: committed when it resolves, aborted when it throws. Throws
   * ProducerFencedError when a newer producer with the same transactionalId took over.
   */
  transaction<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface TransactionalProducerOptions {
  /** Broker aborts a transaction left open longer than this. Default 60 s. */
  readonly transactionTimeoutMs?: number;
}

/** A topic as it should exist: plain data, also used to generate docs and deployment manifests. */
export interface TopicDefinition {
  readonly name: string;
  readonly partitions: number;
  /** Undefined: the broker's default.replication.factor. */
  readonly replicationFactor?: number;
  readonly config: Readonly<Record<string, string>>;
}

export interface TopicDescription {
  readonly name: string;
  readonly partitions: number;
}

export interface CompactedValue extends TopicPartition {
  readonly offset: bigint;
  readonly value: Buffer;
  readonly headers: Readonly<Record<string, Buffer>>;
}

/** A record seen by scanCompacted: a value, or a tombstone (null). */
export interface CompactedRecord extends Omit<CompactedValue, 'value'> {
  readonly value: Buffer | null;
}

export interface ReadCompactedOptions {
  /** Only these partitions (default: all). */
  readonly partitions?: readonly number[];
}

interface GroupMember {
  readonly memberId: string;
  readonly clientId: string;
  readonly host: string;
  /** The partitions the group's leader assigned to this member. */
  readonly assignment: readonly TopicPartition[];
}

export interface GroupDescription {
  readonly groupId: string;
  /** Kafka's group state: Stable, PreparingRebalance, CompletingRebalance, Empty, Dead. */
  readonly state: string;
  readonly members: readonly GroupMember[];
}

export interface Admin {
  /** Creates the missing topics; existing ones are left as they are. Returns the names created. */
  createTopics(topics: readonly TopicDefinition[]): Promise<string[]>;
  /** Throws when a topic does not exist. */
  describeTopics(names: readonly string[]): Promise<TopicDescription[]>;
  listTopics(): Promise<string[]>;
  deleteTopics(names: readonly string[]): Promise<void>;
  /** A consumer group's committed offsets against the topic's end offsets, per partition. */
  groupLag(groupId: string, topic: string): Promise<PartitionLag[]>;
  /** A consumer group's state and members with their assignments (Dead/no members when unknown). */
  describeGroup(groupId: string): Promise<GroupDescription>;
  close(): Promise<void>;
}

export interface Kafka {
  producer(): Promise<Producer>;
  /** Fences (makes fail) any older producer with the same transactionalId. */
  transactionalProducer(transactionalId: string, options?: TransactionalProducerOptions): Promise<TransactionalProducer>;
  consumer(options: ConsumerOptions): Promise<Consumer>;
  admin(): Promise<Admin>;
  /**
   * Latest value per key of a compacted topic, from the start up to the end offsets taken when the
   * call begins (committed data only); tombstones remove keys.
   */
  readCompacted(topic: string, options?: ReadCompactedOptions): Promise<Map<string, CompactedValue>>;
  /**
   * Every record of the topic in offset order (per partition) up to the same end offsets, tombstones
   * included (`value` null), without holding them: for restoring more state than fits in memory.
   */
  scanCompacted(topic: string, visit: (key: string, record: CompactedRecord) => void, options?: ReadCompactedOptions): Promise<void>;
  /** Closes every producer, consumer and admin this instance created. */
  close(): Promise<void>;
}

/** A newer producer with the same transactionalId exists: this one must stop (it is a zombie). */
export class ProducerFencedError extends Error {
  override readonly name = 'ProducerFencedError';
  readonly transactionalId: string;
  constructor(transactionalId: string, options?: ErrorOptions) {
    super(`producer fenced: a newer producer with transactionalId "${transactionalId}" took over`, options);
    this.transactionalId = transactionalId;
  }
}

/** The consumer was closed: lag() after (or racing with) close() rejects with this. */
export class ConsumerClosedError extends Error {
  override readonly name = 'ConsumerClosedError';
  readonly groupId: string;
  constructor(groupId: string) {
    super(`consumer closed (group "${groupId}")`);
    this.groupId = groupId;
  }
}

/** Pino-compatible logger the adapter reports to (libs/platform's logger fits). */
export interface KafkaLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
