// A fetched batch's records as commands and dead letters: records already applied (below the
// partition's next offset) are skipped, resync markers become the retractions they imply, and a
// record that is no command, or whose key is not its record's, becomes a dead letter with the reason.
import { decodeCommand } from '@octi-defender/indicators';
import { partitionForKey, type Batch, type DeadLetterInput, type OutgoingRecord, type TopicPartitionOffset } from '@octi-defender/kafka';
import type { Logger } from '@octi-defender/platform';
import type { ClaimCommand } from '../core/facts.ts';
import type { ResyncHandler } from '../core/resync.ts';
import type { PartitionTask } from './partition-tasks.ts';

/** A batch's records, decoded. */
export interface DecodedBatch {
  readonly commands: readonly ClaimCommand[];
  /** Records of the dead-letter topic (headers.reason set). */
  readonly deadLetters: readonly OutgoingRecord[];
  /** The next offset to consume, committed with the batch's partition. */
  readonly offset: TopicPartitionOffset;
}

/** A writer's dead letter (the origin is the writer's to add). */
export type WriterLetter = Omit<DeadLetterInput, 'origin'>;

interface DecodeDeps {
  readonly resync: ResyncHandler;
  readonly partitionCount: number;
  readonly logger: Logger;
  readonly deadLetter: (letter: WriterLetter) => OutgoingRecord;
}

/** Decodes `batch` for its task; measures how far behind the partition is. */
export function decodeBatch(d: DecodeDeps, batch: Batch, task: PartitionTask, now: number): DecodedBatch {
  const commands: ClaimCommand[] = [];
  const deadLetters: OutgoingRecord[] = [];
  const at = new Date(now);
  for (const r of batch.records) {
    if (r.offset < task.nextOffset) continue;
    const where = { key: r.key, source: { topic: r.topic, partition: r.partition, offset: r.offset.toString() }, at };
    if (r.value === null) {
      deadLetters.push(d.deadLetter({ ...where, reason: 'empty_value', detail: 'record has no value' }));
      continue;
    }
    if (r.headers.op?.toString() === 'resync') {
      const m = d.resync.marker(batch.partition, r.value, commands);
      if (!m.ok) deadLetters.push(d.deadLetter({ ...where, reason: 'invalid_command', detail: m.error, raw: r.value.toString('utf8') }));
      else {
        if (m.marker.phase === 'end') {
          d.logger.info({ stream: m.marker.streamId, epoch: m.marker.epoch, partition: batch.partition, retracted: m.retractions.length }, 'resync ended: retracting what the replay did not assert');
        }
        commands.push(...m.retractions);
      }
      continue;
    }
    const c = decodeCommand(r.value);
    if (!c.ok) {
      deadLetters.push(d.deadLetter({ ...where, reason: c.error.code, detail: c.error.message, raw: r.value.toString('utf8') }));
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
