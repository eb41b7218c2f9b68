// The status publisher: every few seconds a snapshot of selected series of the service's metrics
// registry (with, per series, when its value last changed), keyed by service/instance, for
// `octi-defender status` to read from a compacted Kafka topic. A graceful stop leaves a tombstone,
// so a stopped instance disappears; a crashed one's last snapshot stays and ages.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { z } from 'zod';

const STATUS_SCHEMA_VERSION = 1;

/** Longest a stop waits for each of: the snapshot in flight, the tombstone, closing the sink. */
const STOP_WAIT_MS = 3000;

const SampleSchema = z.object({
  labels: z.record(z.string(), z.string()),
  value: z.number(),
  /** When the publisher first saw this value (ms since the epoch). */
  changedAt: z.number(),
});

const StatusSnapshotSchema = z.object({
  schemaVersion: z.literal(STATUS_SCHEMA_VERSION),
  service: z.string(),
  instance: z.string(),
  /** What identifies the deployment: tenant, consumer group, topics, streams… */
  info: z.record(z.string(), z.string()),
  /** When it was taken (ms since the epoch). */
  at: z.number(),
  /** The next one is due after this long: a snapshot older than a few intervals is from a stopped instance. */
  intervalMs: z.number(),
  metrics: z.record(z.string(), z.array(SampleSchema)),
});

export type StatusSnapshot = z.infer<typeof StatusSnapshotSchema>;
export type StatusSample = z.infer<typeof SampleSchema>;

export function statusKey(service: string, instance: string): string {
  return `${service}/${instance}`;
}

export function decodeStatusSnapshot(text: string): StatusSnapshot | undefined {
  try {
    const parsed = StatusSnapshotSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** Where snapshots go: a record (`value` null: a tombstone) under `key`. */
export interface StatusSink {
  send(key: string, value: string | null): Promise<void>;
  close(): Promise<void>;
}

interface StatusPublisherOptions {
  readonly registry: Registry;
  readonly service: string;
  readonly instance: string;
  readonly info: Readonly<Record<string, string>>;
  /** Names of the metrics to include (absent ones are skipped). */
  readonly metrics: readonly string[];
  readonly intervalMs: number;
  readonly sink: StatusSink;
  readonly logger: Logger;
  readonly now?: () => number;
  /** Default STOP_WAIT_MS. */
  readonly stopWaitMs?: number;
}

/** Reads the selected series; `changedAt` carries over from `previous` while a value stays the same. */
export async function takeSnapshot(o: Omit<StatusPublisherOptions, 'sink' | 'logger'>, previous: StatusSnapshot | undefined): Promise<StatusSnapshot> {
  const at = (o.now ?? Date.now)();
  const metrics: Record<string, StatusSample[]> = {};
  for (const name of o.metrics) {
    const m = await o.registry.getSingleMetric(name)?.get();
    if (!m) continue;
    metrics[name] = m.values
      .filter((v) => !('metricName' in v) || v.metricName === undefined || v.metricName === name)
      .map((v) => {
        const labels = Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, String(x)]));
        const before = previous?.metrics[name]?.find((s) => JSON.stringify(s.labels) === JSON.stringify(labels));
        return { labels, value: v.value, changedAt: before && before.value === v.value ? before.changedAt : at };
      });
  }
  return { schemaVersion: STATUS_SCHEMA_VERSION, service: o.service, instance: o.instance, info: { ...o.info }, at, intervalMs: o.intervalMs, metrics };
}

/** Publishes a snapshot now and every `intervalMs` (timer unref'd); `stop()` publishes the tombstone. */
export function startStatusPublisher(o: StatusPublisherOptions): { stop(): Promise<void> } {
  const key = statusKey(o.service, o.instance);
  let previous: StatusSnapshot | undefined;
  let running: Promise<void> = Promise.resolve();
  let stopped = false;
  const publish = (): void => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        previous = await takeSnapshot(o, previous);
        await o.sink.send(key, JSON.stringify(previous));
      } catch (err) {
        o.logger.warn({ err }, 'status snapshot not published');
      }
    });
  };
  publish();
  const timer = setInterval(publish, o.intervalMs);
  timer.unref();
  // A stop never waits long for Kafka: a shutdown has a deadline, and a snapshot is not worth it.
  const bounded = <T>(work: Promise<T>, what: string): Promise<T> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      const ms = o.stopWaitMs ?? STOP_WAIT_MS;
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  };
  return {
    async stop() {
      clearInterval(timer);
      stopped = true;
      try {
        await bounded(running, 'status snapshot in flight');
        await bounded(o.sink.send(key, null), 'status tombstone');
      } catch (err) {
        o.logger.warn({ err }, 'status tombstone not published');
      }
      await bounded(o.sink.close(), 'status sink close').catch((err: unknown) => o.logger.warn({ err }, 'status sink not closed'));
    },
  };
}
