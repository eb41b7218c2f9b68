// kafkajs retries some requests itself but not all: right after a topic is created, ListOffsets can
// still meet NOT_LEADER_FOR_PARTITION or UNKNOWN_TOPIC_OR_PARTITION, which are retriable by nature.
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from '@octi-defender/platform';

function isRetriable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if ((e as { retriable?: unknown }).retriable === true) return true;
  }
  return false;
}

export async function withRetries<T>(fn: () => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !isRetriable(err)) throw err;
      // 200 ms after the first failure, doubling, at most 2 s.
      await sleep(backoffDelay({ baseMs: 200, maxMs: 2000, jitter: 'none' }, attempt - 1));
    }
  }
}
