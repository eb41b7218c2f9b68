// A fetched batch's records as commands and dead letters: records already applied (below the
// partition's next offset) are skipped, resync markers become the retractions they imply, and a
// record that is no command, or whose key is not its record's, becomes a dead letter with the reason.
import { decodeCommand } from '@octi-defender/indicators';
import { partitionForKey, type Batch, type OutgoingRecord } from '@octi-defender/kafka';
import type { Logger } from '@octi-defender/platform';
import type { ClaimCommand } from '../core/facts.ts';
import type { ResyncHandler } from '../core/resync.ts';
import type { PartitionTask } from './partition-tasks.ts';
import type { DecodedBatch } from './round.ts';

/** The raw record kept in a dead letter is cut to this many characters. */
const MAX_DEAD_LETTER_RAW = 64 * 1024;

export interface BatchDeadLetter {
  readonly key: string | null;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly reason: string;
  readonly detail: string;
  readonly raw?: string;
  readonly truncated?: boolean;
  readonly at: string;
}

interface DecodeDeps {
  readonly resync: ResyncHandler;
  readonly partitionCount: number;
  readonly logger: Logger;
  readonly deadLetter: (letter: BatchDeadLetter) => OutgoingRecord;
}

/** Decodes `batch` for its task; measures how far behind the partition is. */
export function decodeBatch(d: DecodeDeps, batch: Batch, task: PartitionTask, now: number): DecodedBatch {
  const commands: ClaimCommand[] = [];
  const deadLetters: OutgoingRecord[] = [];
  const at = new Date(now).toISOString();
  for (const r of batch.records) {
    if (r.offset < task.nextOffset) continue;
    const where = { key: r.key, topic: r.topic, partition: r.partition, offset: r.offset.toString(), at };
    if (r.value === null) {
      deadLetters.push(d.deadLetter({ ...where, reason: 'empty_value', detail: 'record has no value' }));
      continue;
    }
    if (r.headers.op?.toString() === 'resync') {
      const m = d.resync.marker(batch.partition, r.value, commands);
      if (!m.ok) deadLetters.push(d.deadLetter({ ...where, reason: 'invalid_command', detail: m.error, ...cut(r.value.toString('utf8')) }));
      else {
        if (m.marker.phase === 'end') d.logger.info({ stream: m.marker.streamId, epoch: m.marker.epoch, partition: batch.partition, retracted: m.retractions.length }, 'resync ended: retracting what the replay did not assert');
        commands.push(...m.retractions);
      }
      continue;
    }
    const c = decodeCommand(r.value);
    if (!c.ok) {
      deadLetters.push(d.deadLetter({ ...where, reason: c.error.code, detail: c.error.message, ...cut(r.value.toString('utf8')) }));
      continue;
    }
    if (c.value.key !== r.key || partitionForKey(c.value.key, d.partitionCount) !== batch.partition) {
      deadLetters.push(d.deadLetter({ ...where, reason: 'key_mismatch', detail: `command key ${JSON.stringify(c.value.key)} is not the record key` }));
      continue;
    }
    d.resync.observe(batch.partition, c.value);
    commands.push(c.value);
  }
  const next = batch.lastOffset + 1n;
  task.behind = batch.highWatermark - next;
  task.behindAt = now;
  return { commands, deadLetters, offset: { topic: batch.topic, partition: batch.partition, offset: next } };
}

function cut(raw: string): { raw: string; truncated: boolean } {
  const truncated = raw.length > MAX_DEAD_LETTER_RAW;
  return { raw: truncated ? raw.slice(0, MAX_DEAD_LETTER_RAW) : raw, truncated };
}
