// An operator change of the stored checkpoints (a replay, a resync, a connector reset): checked
// against the checkpoints topic, then written with a record of the request, so each request id
// applies once. The listener stops its term around the write (Listener#rewrite).
import type { Kafka, OutgoingRecord } from '@octi-defender/kafka';
import type { Logger } from '@octi-defender/platform';
import { decodeCheckpoint, encodeCheckpoint, type Checkpoint } from './checkpoint.ts';
import { RefusedChange } from './rewind.ts';

/** A stream's new checkpoint (undefined: unchanged); throws a RefusedChange to refuse the request. */
export type CheckpointChange = (streamId: string, checkpoint: Checkpoint | undefined) => Checkpoint | undefined;

/**
 * The outcome of an operator change of the stored positions: applied (and the listener restarted
 * from them), already applied before (the request id is recorded), or not possible here.
 */
export type RewriteOutcome =
  | { readonly outcome: 'applied'; readonly before: ReadonlyMap<string, Checkpoint | undefined> }
  | { readonly outcome: 'duplicate' }
  | { readonly outcome: 'not-active' }
  | { readonly outcome: 'refused'; readonly reason: string };

/** Key of the checkpoints topic recording that an operator request was applied (so it applies once). */
export function appliedRequestKey(requestId: string): string {
  return `control-request:${requestId}`;
}

/**
 * The answer to a request before the running term is stopped for it: 'duplicate' when its id is
 * recorded, 'refused' when `change` refuses one of the streams, undefined when it may go ahead.
 */
export function refusedOrRepeated(requestId: string, streamIds: readonly string[], change: CheckpointChange, stored: Map<string, { value: Buffer }>): RewriteOutcome | undefined {
  if (stored.has(appliedRequestKey(requestId))) return { outcome: 'duplicate' };
  try {
    for (const streamId of streamIds) change(streamId, decodeCheckpoint(streamId, stored.get(streamId)?.value ?? null));
  } catch (err) {
    if (err instanceof RefusedChange) return { outcome: 'refused', reason: err.message };
    throw err;
  }
  return undefined;
}

/**
 * Writes each stream's checkpoint as `change` returns it (undefined: unchanged) and a record of
 * `requestId`, in one transaction with the group's transactional id (a stale active replica cannot
 * write after this one). Checked again on the checkpoints read here: a recorded id is 'duplicate',
 * a RefusedChange 'refused'.
 */
export async function writeCheckpointChange(
  kafka: Kafka,
  cfg: { readonly groupId: string; readonly checkpointsTopic: string; readonly streamIds: readonly string[] },
  requestId: string,
  change: CheckpointChange,
  log: Logger,
): Promise<RewriteOutcome> {
  const producer = await kafka.transactionalProducer(cfg.groupId);
  try {
    const stored = await kafka.readCompacted(cfg.checkpointsTopic);
    const key = appliedRequestKey(requestId);
    if (stored.has(key)) return { outcome: 'duplicate' };
    const before = new Map<string, Checkpoint | undefined>();
    const records: OutgoingRecord[] = [];
    for (const streamId of cfg.streamIds) {
      const current = decodeCheckpoint(streamId, stored.get(streamId)?.value ?? null);
      let next: Checkpoint | undefined;
      try {
        next = change(streamId, current);
      } catch (err) {
        if (err instanceof RefusedChange) return { outcome: 'refused', reason: err.message };
        throw err;
      }
      if (next === undefined) continue;
      before.set(streamId, current);
      records.push({ topic: cfg.checkpointsTopic, key: streamId, value: encodeCheckpoint(next) });
    }
    if (records.length === 0) return { outcome: 'refused', reason: 'no stream of this listener is concerned' };
    records.push({ topic: cfg.checkpointsTopic, key, value: JSON.stringify({ requestId, streams: [...before.keys()], at: new Date().toISOString() }) });
    await producer.transaction((tx) => tx.send(records));
    log.warn({ requestId, streams: [...before.keys()] }, 'operator request applied to the checkpoints; restarting from them');
    return { outcome: 'applied', before };
  } finally {
    await producer.close().catch((err: unknown) => log.warn({ err }, 'closing the producer failed'));
  }
}
