// Group consumer over kafkajs: batches per partition, manual commits only, read_committed,
// assignment callbacks derived from GROUP_JOIN (kafkajs has eager rebalances and no revoke hook), and
// the member's lease: how long its assignment is certainly still its own (see leaseRemainingMs).
import type { Admin as KjsAdmin, Kafka as KafkaJs } from 'kafkajs';
import { ConsumerClosedError } from '../port.ts';
import type { BatchHandler, Consumer, ConsumerOptions, KafkaLogger, PartitionLag, TopicPartition } from '../port.ts';
import { byTopic, offsetsByTopic, toIncoming, tpKey } from './records.ts';
import { withRetries } from './retry.ts';

/** kafkajs' default (consumer/index.js). */
const KAFKAJS_SESSION_TIMEOUT = 30_000;

/**
 * A tenth of the session timeout, at least 500 ms: kafkajs sends at most one heartbeat per interval,
 * and a member whose lease is the session must get several through before it runs out (3 s for the
 * default 30 s session, kafkajs' own default).
 */
function heartbeatIntervalFor(sessionTimeoutMs: number): number {
  return Math.max(500, Math.floor(sessionTimeoutMs / 10));
}
/**
 * Heartbeat answers meaning this member's assignment is over (a rebalance, or the member is gone).
 * Not NOT_COORDINATOR: the request reached a broker that is not (or no longer) the group's
 * coordinator, which says nothing of the membership. kafkajs then finds the coordinator and, when it
 * accepts the member's heartbeats with the same generation, keeps it without a rejoin: ended here,
 * the lease waited for a join that never came (a writer idle for good after a broker restart).
 * Unrenewed, the lease simply runs out a session after the last accepted heartbeat.
 */
const LEASE_ENDING = new Set(['REBALANCE_IN_PROGRESS', 'UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'FENCED_INSTANCE_ID']);

export async function createConsumer(kafka: KafkaJs, options: ConsumerOptions, logger: KafkaLogger | undefined): Promise<Consumer> {
  const sessionTimeout = options.sessionTimeoutMs ?? KAFKAJS_SESSION_TIMEOUT;
  const heartbeatInterval = options.heartbeatIntervalMs ?? heartbeatIntervalFor(sessionTimeout);
  const c = kafka.consumer({
    groupId: options.groupId,
    readUncommitted: false,
    allowAutoTopicCreation: false,
    ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeout: options.sessionTimeoutMs }),
    ...(options.rebalanceTimeoutMs === undefined ? {} : { rebalanceTimeout: options.rebalanceTimeoutMs }),
    heartbeatInterval,
    ...(options.maxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: options.maxBytesPerPartition }),
    // kafkajs waits 5 s by default, which also delays close(); Java's fetch.max.wait.ms is 500.
    maxWaitTimeInMs: options.maxWaitTimeMs ?? 500,
  });
  await c.connect();
  await c.subscribe({ topics: [...options.topics], fromBeginning: options.fromBeginning ?? true });

  // The lease: the broker keeps this member (and its assignment) for a session timeout after it
  // RECEIVED the last heartbeat or join it accepted, so counting from when that request was SENT
  // (kafkajs' request instrumentation) is safe; the margin covers what happens between a check of
  // the lease and its effect. Times are monotonic (performance.now), so a wall-clock jump changes nothing.
  const margin = options.leaseMarginMs ?? Math.max(1000, sessionTimeout / 5);
  const monotonic = (epochMs: number): number => performance.now() - (Date.now() - epochMs);
  let leaseFrom = -Infinity;
  let leaseLost = true;
  let heartbeatSent = -Infinity;
  let joinSent = -Infinity;
  let joinsSinceGroupJoin = 0;
  let memberId: string | undefined;
  const loseLease = (reason: string): void => {
    if (leaseLost) return;
    leaseLost = true;
    logger?.warn({ groupId: options.groupId, reason }, 'group membership lease lost');
    options.onLeaseLost?.(reason);
  };
  c.on(c.events.REQUEST, ({ payload }) => {
    if (payload.apiName === 'Heartbeat') heartbeatSent = monotonic(payload.sentAt);
    else if (payload.apiName === 'JoinGroup') {
      joinSent = monotonic(payload.sentAt);
      joinsSinceGroupJoin++;
    }
  });
  // Emitted once the broker accepted the heartbeat (an error answer throws instead).
  c.on(c.events.HEARTBEAT, () => {
    if (!leaseLost) leaseFrom = Math.max(leaseFrom, heartbeatSent);
  });
  c.on(c.events.REBALANCING, () => loseLease('rebalancing'));
  const onHeartbeatError = (err: unknown): void => {
    const type = (err as { type?: unknown }).type;
    if (typeof type === 'string' && LEASE_ENDING.has(type)) loseLease(type);
    else logger?.debug({ err, groupId: options.groupId }, 'heartbeat failed');
  };

  let assigned = new Map<string, TopicPartition>();
  // Per partition: settles when onAssigned for it has; batches wait for it.
  const restored = new Map<string, Promise<void>>();
  // onRevoked/onAssigned run one after the other, in rebalance order.
  let lifecycle: Promise<void> = Promise.resolve();
  const enqueue = (what: string, fn: () => Promise<void> | undefined, partitions: readonly TopicPartition[]): Promise<void> => {
    const p = lifecycle.then(fn).then(() => undefined);
    lifecycle = p.catch((err: unknown) => logger?.error({ err, groupId: options.groupId, partitions }, `${what} callback failed`));
    return p;
  };
  const revoke = (partitions: TopicPartition[]): Promise<void> => {
    for (const tp of partitions) restored.delete(tpKey(tp));
    return partitions.length > 0 && options.onRevoked ? enqueue('onRevoked', () => options.onRevoked?.(partitions), partitions) : Promise.resolve();
  };
  const revokeAll = (): Promise<void> => {
    const all = [...assigned.values()];
    assigned = new Map();
    return revoke(all);
  };

  c.on(c.events.GROUP_JOIN, ({ payload }) => {
    const next = new Map<string, TopicPartition>();
    for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
      for (const partition of partitions) next.set(tpKey({ topic, partition }), { topic, partition });
    }
    // A partition is kept only when this join directly follows the previous one in the same
    // membership: a new member id (this one was evicted) or more than one JoinGroup since (a
    // generation completed without this member learning its assignment) means another member may
    // have owned it meanwhile, so everything is revoked and assigned again (state restored afresh).
    const sameSession = payload.memberId === memberId && joinsSinceGroupJoin === 1;
    memberId = payload.memberId;
    joinsSinceGroupJoin = 0;
    leaseFrom = joinSent;
    leaseLost = false;
    if (!sameSession && assigned.size > 0) void revokeAll();
    const lost = [...assigned].filter(([k]) => !next.has(k)).map(([, tp]) => tp);
    const gained = [...next].filter(([k]) => !assigned.has(k)).map(([, tp]) => tp);
    assigned = next;
    void revoke(lost);
    if (gained.length > 0 && options.onAssigned) {
      const done = enqueue('onAssigned', () => options.onAssigned?.(gained), gained);
      for (const tp of gained) restored.set(tpKey(tp), done);
      // Forget them so the rejoin after the resulting crash calls onAssigned again.
      done.catch(() => {
        for (const tp of gained) assigned.delete(tpKey(tp));
      });
    }
    options.onJoined?.([...next.values()]);
  });
  // kafkajs restarts a crashed consumer with a fresh join, which reports everything as gained.
  c.on(c.events.CRASH, ({ payload }) => {
    loseLease('crash');
    void revokeAll();
    if (!payload.restart) options.onFailed?.(payload.error);
  });

  let closing: Promise<void> | undefined;
  // The admin of lag(), connected on first use. kafkajs connects brokers on demand, so an admin
  // request issued after close() disconnected it opens a connection nothing closes any more, which
  // keeps the process alive: every request checks `closing` first, and close() waits for the lag()
  // calls in flight before it disconnects the admin.
  let admin: KjsAdmin | undefined;
  let adminReady: Promise<KjsAdmin> | undefined;
  const measuring = new Set<Promise<unknown>>();
  const ensureOpen = (): void => {
    if (closing) throw new ConsumerClosedError(options.groupId);
  };
  const connectAdmin = (): Promise<KjsAdmin> => (adminReady ??= (async () => {
    const a = kafka.admin();
    admin = a;
    try {
      await a.connect();
      return a;
    } catch (err) {
      adminReady = undefined;
      admin = undefined;
      await a.disconnect().catch(() => undefined);
      throw err;
    }
  })());
  const measureLag = async (): Promise<PartitionLag[]> => {
    const a = await connectAdmin();
    const committed = await withRetries(() => {
      ensureOpen();
      return a.fetchOffsets({ groupId: options.groupId, topics: [...options.topics] });
    });
    const out: PartitionLag[] = [];
    for (const topic of options.topics) {
      const ends = await withRetries(() => {
        ensureOpen();
        return a.fetchTopicOffsets(topic);
      });
      const mine = committed.find((t) => t.topic === topic)?.partitions ?? [];
      for (const { partition, high, low } of ends) {
        const raw = mine.find((p) => p.partition === partition)?.offset;
        const c = raw === undefined || raw === '-1' ? null : BigInt(raw);
        const end = BigInt(high);
        out.push({ topic, partition, committed: c, end, lag: end - (c ?? BigInt(low)) });
      }
    }
    return out.sort((x, y) => x.topic.localeCompare(y.topic) || x.partition - y.partition);
  };
  return {
    async run(handler: BatchHandler): Promise<void> {
      await c.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
        eachBatch: async (payload) => {
          const { batch } = payload;
          const { topic, partition } = batch;
          // kafkajs heartbeats only between batches: keep the session alive while this one waits for
          // its restore and runs (kafkajs sends at most one heartbeat per heartbeatInterval).
          const ticker = setInterval(() => void payload.heartbeat().catch(onHeartbeatError), Math.max(100, heartbeatInterval / 2));
          try {
            await restored.get(tpKey({ topic, partition }));
            if (batch.messages.length === 0) return;
            await handler({
              topic,
              partition,
              records: batch.messages.map((m) => toIncoming(topic, partition, m)),
              lastOffset: BigInt(batch.lastOffset()),
              highWatermark: BigInt(batch.highWatermark),
              resolveOffset: (offset) => payload.resolveOffset(offset.toString()),
              heartbeat: () => payload.heartbeat(),
              isRunning: () => payload.isRunning(),
              isStale: () => payload.isStale(),
            });
          } finally {
            clearInterval(ticker);
          }
        },
      });
    },
    commit: (offsets) => c.commitOffsets(offsetsByTopic(offsets).flatMap(({ topic, partitions }) => partitions.map((p) => ({ topic, ...p })))),
    pause: (partitions) => c.pause(byTopic(partitions)),
    resume: (partitions) => c.resume(byTopic(partitions)),
    paused: () => c.paused().flatMap(({ topic, partitions }) => partitions.map((partition) => ({ topic, partition }))),
    assignment: () => [...assigned.values()],
    leaseRemainingMs: () => (leaseLost || closing ? 0 : Math.max(0, leaseFrom + sessionTimeout - margin - performance.now())),
    lag(): Promise<PartitionLag[]> {
      if (closing) return Promise.reject(new ConsumerClosedError(options.groupId));
      const p = measureLag();
      measuring.add(p);
      const done = (): void => void measuring.delete(p);
      p.then(done, done);
      return p;
    },
    close(): Promise<void> {
      closing ??= (async () => {
        const lags = Promise.allSettled([...measuring]);
        try {
          await c.disconnect();
          await revokeAll();
        } finally {
          await lags;
          await admin?.disconnect();
        }
      })();
      return closing;
    },
  };
}
