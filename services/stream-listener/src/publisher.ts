// Drains the stream queues into Kafka. Each round takes what is queued (natural batching: events
// pile up while the previous transaction is in flight), normalizes it, and writes the commands,
// the dead letters and the new checkpoint of every stream in ONE Kafka transaction, so a
// checkpoint can never get ahead of the commands it covers, and a fenced (stale) listener cannot
// publish anything.
import { encodeCommandJson, MAX_COMMAND_BYTES, normalizeEvent, type MarkingRegistry, type StreamEventName } from '@octi-defender/indicators';
import { deadLetterRecord, type DeadLetter as Envelope, type OutgoingRecord, type TransactionalProducer } from '@octi-defender/kafka';
import type { Logger } from '@octi-defender/platform';
import { encodeCheckpoint, type Checkpoint } from './checkpoint.ts';
import type { EventQueue } from './event-queue.ts';
import type { ListenerMetrics } from './metrics.ts';
import type { RawStreamEvent } from './stream-reader.ts';
import { markerRecords, replayEnd, replayEndedBy, type ResyncState } from './resync.ts';
import { RoundTally } from './round-tally.ts';
import { EVENT_ID } from '@octi-defender/indicators';
import { laterOf, safeCheckpoint } from './stream-position.ts';

const DATA_EVENTS: ReadonlySet<string> = new Set<StreamEventName>(['create', 'update', 'delete', 'merge']);
/**
 * A round stops taking events past this many bytes of records. Larger transactions spread their
 * fixed cost (partitions added, commit) over more commands; the producer sends them in requests far
 * below the broker's message.max.bytes (sliceByBytes), so this bounds only how much one
 * transaction holds in memory and replays after a crash.
 */
const MAX_ROUND_BYTES = 1024 * 1024;

export interface StreamSlot {
  readonly streamId: string;
  readonly queue: EventQueue<RawStreamEvent>;
  checkpoint: Checkpoint | undefined;
  /** Recover date and operator override carried into every checkpoint of this stream. */
  readonly recoverUntil: string | undefined;
  readonly startFrom: string | undefined;
  /** Where a reconnection resumes: the last position known complete (the reader moves it too). */
  resumeFrom: string | undefined;
  /** The resync under way, if any, and how many events its replay has carried so far. */
  resync: ResyncState | undefined;
  replayed: number;
  /** The operator resync request carried into every checkpoint once started. */
  resyncRequest: string | undefined;
}

export interface PublisherOptions {
  readonly producer: TransactionalProducer;
  readonly commandsTopic: string;
  /** Partitions of the commands topic: resync markers go to each. */
  readonly commandsPartitions: number;
  readonly checkpointsTopic: string;
  readonly dlqTopic: string;
  readonly streams: readonly StreamSlot[];
  readonly maxBatch: number;
  /** Learnt marking names; outlives a publisher so a failover keeps them. */
  readonly markings: MarkingRegistry;
  readonly logger: Logger;
  readonly metrics: ListenerMetrics;
  readonly now?: () => Date;
}

/** A listener's letter: the shared envelope, always with its event and raw text. */
export type DeadLetter = Envelope & Required<Pick<Envelope, 'streamId' | 'eventId' | 'eventName' | 'raw' | 'truncated'>>;

interface SkippedEvent {
  readonly size: number;
  readonly entityType?: string;
  readonly entityId?: string;
}

/** The STIX type and id of the event's object, when the head of the event shows them. */
export function entityOf(head: string): { entityType?: string; entityId?: string } {
  const at = head.indexOf('"data":{');
  if (at < 0) return {};
  const rest = head.slice(at + 8);
  const id = /"id":"([a-z0-9-]+--[0-9a-f-]{36})"/.exec(rest)?.[1];
  const type = /"type":"([a-z0-9-]+)"/.exec(rest)?.[1];
  return { ...(type !== undefined ? { entityType: type } : {}), ...(id !== undefined ? { entityId: id } : {}) };
}

/** What committing a round makes true of one stream. */
interface Taken {
  readonly slot: StreamSlot;
  readonly count: number;
  readonly checkpoint: Checkpoint | undefined;
  readonly before: ResyncState | undefined;
  readonly resync: ResyncState | undefined;
  readonly replayed: number;
}

/** One transaction's worth: its records, per stream the events it covers, and what it counts once committed. */
interface Round {
  readonly records: OutgoingRecord[];
  readonly taken: Taken[];
  readonly tally: RoundTally;
}

export class Publisher {
  readonly #o: PublisherOptions;
  readonly #now: () => Date;
  /** The round whose transaction is in flight: the next one is prepared from its outcome. */
  #inFlight: Round | undefined;

  constructor(options: PublisherOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Publishes until `signal` aborts; rejects on a Kafka failure (including being fenced). Pipelined:
   * the next round is read and normalized while the previous transaction is in flight, and its
   * transaction starts only once the previous one committed, so transactions commit in queue order
   * and a failed one is never followed by another (the next round is dropped with it, and the term
   * restarts from the last committed checkpoint).
   */
  async run(signal: AbortSignal): Promise<void> {
    let commit: Promise<void> | undefined;
    try {
      while (!signal.aborted) {
        // A round that starts or ends a resync changes what the next one is built on: wait for it.
        if (commit && this.#inFlight && changesResync(this.#inFlight)) {
          await commit;
          commit = undefined;
        }
        const round = this.#prepare();
        if (!round) {
          if (commit) await commit;
          else await this.#waitForEvents(signal);
          commit = undefined;
          continue;
        }
        await commit;
        commit = this.#commit(round);
      }
    } finally {
      // Never return with a transaction in flight: the caller closes the producer next.
      await commit;
    }
  }

  /** Sends `round` in one transaction, then makes its outcome the streams' state. */
  async #commit(round: Round): Promise<void> {
    this.#inFlight = round;
    try {
      if (round.records.length > 0) {
        const end = this.#o.metrics.publishSeconds.startTimer();
        await this.#o.producer.transaction((tx) => tx.send(round.records));
        const seconds = end();
        this.#o.logger.debug({ records: round.records.length, seconds }, 'published');
      }
    } finally {
      this.#inFlight = undefined;
    }
    round.tally.countIn(this.#o.metrics);
    let consumed = 0;
    for (const t of round.taken) {
      t.slot.queue.drop(t.count);
      t.slot.checkpoint = t.checkpoint;
      if (t.before && !t.resync) {
        t.slot.resumeFrom = laterOf(t.slot.resumeFrom, replayEnd(t.before));
        this.#o.metrics.resyncActive.set({ stream: t.slot.streamId }, 0);
      }
      // A resync the reader started during the transaction is kept, not overwritten by this round's view.
      if (t.slot.resync === t.before) {
        t.slot.resync = t.resync;
        t.slot.replayed = t.replayed;
      }
      this.#o.metrics.queueDepth.set({ stream: t.slot.streamId }, t.slot.queue.size);
      consumed += t.count;
    }
    this.#o.metrics.publishBatch.observe(consumed);
  }

  /**
   * The next round: what is queued after the round in flight (up to maxBatch events per stream and
   * about MAX_ROUND_BYTES of records), normalized, with each stream's checkpoint as of the end of it.
   * Undefined when nothing is queued beyond the round in flight.
   */
  #prepare(): Round | undefined {
    const records: OutgoingRecord[] = [];
    const taken: Taken[] = [];
    const tally = new RoundTally();
    const now = this.#now();
    let bytes = 0;
    let counted = 0;
    for (const slot of this.#o.streams) {
      // The round in flight is built on as if committed: if it fails, this one is never sent.
      const prior = this.#inFlight?.taken.find((t) => t.slot === slot);
      const offset = prior?.count ?? 0;
      const events = slot.queue.peek(this.#o.maxBatch + 1, offset);
      if (events.length === 0) continue;
      const before = slot.resync;
      let resync = before;
      let replayed = prior && prior.before === before ? prior.replayed : slot.replayed;
      const previous = prior ? prior.checkpoint : slot.checkpoint;
      let base = previous?.lastEventId;
      let seen = previous?.seen;
      if (resync?.phase === 'begin') {
        records.push(...markerRecords(this.#o.commandsTopic, slot.streamId, resync, 'begin', this.#o.commandsPartitions, now));
        resync = { ...resync, phase: 'replaying' };
      }
      let progress: Array<{ id: string; heartbeat: boolean }> = [];
      let n = 0;
      while (n < events.length && n < this.#o.maxBatch && (n === 0 || bytes < MAX_ROUND_BYTES)) {
        const ev = events[n++] as RawStreamEvent;
        if (resync?.phase === 'replaying' && replayEndedBy(resync, ev.id)) {
          records.push(...markerRecords(this.#o.commandsTopic, slot.streamId, resync, 'end', this.#o.commandsPartitions, now));
          this.#o.logger.info(
            { stream: slot.streamId, epoch: resync.epoch, reason: resync.reason, replayed, startedAt: resync.startedAt },
            'resync replay complete; writers retract what it did not assert',
          );
          // The live tail starts after the recover point; what the replay carried proves nothing.
          base = laterOf(base, replayEnd(resync));
          seen = laterOf(seen, replayEnd(resync));
          resync = undefined;
          progress = [];
        }
        tally.event(slot.streamId, ev.name);
        this.#route(ev, now, records, tally);
        for (; counted < records.length; counted++) bytes += recordBytes(records[counted] as OutgoingRecord);
        if (resync) {
          if (DATA_EVENTS.has(ev.name)) replayed += 1;
          continue;
        }
        if (EVENT_ID.test(ev.id) && (ev.name === 'heartbeat' || DATA_EVENTS.has(ev.name))) {
          progress.push({ id: ev.id, heartbeat: ev.name === 'heartbeat' });
          if (ev.name !== 'heartbeat') seen = laterOf(seen, ev.id);
        }
      }
      const lastEventId = resync ? (base ?? '0-0') : safeCheckpoint(progress, events[n], base);
      let checkpoint = previous;
      const resyncChanged = resync !== before || slot.resyncRequest !== previous?.resyncRequest;
      if (lastEventId !== undefined && (lastEventId !== previous?.lastEventId || resyncChanged || seen !== previous?.seen)) {
        checkpoint = {
          streamId: slot.streamId,
          lastEventId,
          ...(seen !== undefined ? { seen } : {}),
          ...(slot.recoverUntil !== undefined ? { recoverUntil: slot.recoverUntil } : {}),
          ...(slot.startFrom !== undefined ? { startFrom: slot.startFrom } : {}),
          ...(resync ? { resync } : {}),
          ...(slot.resyncRequest !== undefined ? { resyncRequest: slot.resyncRequest } : {}),
          updatedAt: now.toISOString(),
        };
        records.push({ topic: this.#o.checkpointsTopic, key: slot.streamId, value: encodeCheckpoint(checkpoint) });
      }
      taken.push({ slot, count: n, checkpoint, before, resync, replayed });
    }
    return taken.length === 0 ? undefined : { records, taken, tally };
  }

  #route(ev: RawStreamEvent, now: Date, out: OutgoingRecord[], tally: RoundTally): void {
    if (ev.name === 'heartbeat') return;
    if (ev.name === 'connected') {
      this.#o.logger.info({ stream: ev.streamId, info: safeJson(ev.data) }, 'stream connected');
      return;
    }
    if (!DATA_EVENTS.has(ev.name)) {
      out.push(this.#deadLetter(ev, 'unknown_event', `SSE event name ${JSON.stringify(ev.name)} is not create, update, delete, merge, heartbeat or connected`, now));
      return;
    }
    if (ev.skipped) {
      const { reason, bytes, head } = ev.skipped;
      const entity = entityOf(head);
      const detail = reason === 'oversized_event'
        ? `event is ${bytes} bytes, over LISTENER_MAX_EVENT_BYTES: skipped`
        : `connections kept ending inside this event (${bytes} bytes received): skipped`;
      out.push(this.#deadLetter({ ...ev, data: head }, reason, detail, now, { size: bytes, ...entity }));
      return;
    }
    if (!EVENT_ID.test(ev.id)) {
      out.push(this.#deadLetter(ev, 'malformed_event', `event id ${JSON.stringify(ev.id)} is not <ms>-<seq>`, now));
      return;
    }
    let data: unknown;
    try {
      data = JSON.parse(ev.data);
    } catch (err) {
      out.push(this.#deadLetter(ev, 'invalid_json', (err as Error).message, now));
      return;
    }
    // One event's failure (a bug or an input no rule foresaw) must not stall the stream: it is
    // dead-lettered with the error, and the round goes on.
    let result: ReturnType<typeof normalizeEvent>;
    let encoded: Array<{ key: string; op: string; value: string }>;
    try {
      result = normalizeEvent({ streamId: ev.streamId, id: ev.id, name: ev.name as StreamEventName, data }, now, this.#o.markings);
      encoded = result.commands.map((cmd) => ({ key: cmd.key, op: cmd.op, value: encodeCommandJson(cmd) }));
    } catch (err) {
      out.push(this.#deadLetter(ev, 'normalize_error', (err as Error).message, now));
      return;
    }
    const tooLarge = encoded.find((c) => Buffer.byteLength(c.value, 'utf8') > MAX_COMMAND_BYTES);
    if (tooLarge) {
      out.push(this.#deadLetter(ev, 'oversized_event', `command for ${tooLarge.key} is ${Buffer.byteLength(tooLarge.value, 'utf8')} bytes, limit ${MAX_COMMAND_BYTES}`, now));
      return;
    }
    this.#o.logger.debug({ stream: ev.streamId, eventId: ev.id, event: ev.name, commands: encoded.length, rejects: result.rejects.length }, 'normalized');
    for (const r of result.rejects) {
      if (r.reason === 'malformed_event') {
        out.push(this.#deadLetter(ev, r.reason, r.detail, now));
        continue;
      }
      tally.reject(r.reason);
      this.#o.logger.info({ stream: ev.streamId, eventId: ev.id, reason: r.reason, detail: r.detail, value: r.value, stixId: r.stixId }, 'value not sent to Defender');
    }
    for (const cmd of encoded) {
      // One header: kafkajs encodes each into a buffer of its own (~2 µs a header per command), and
      // the stream and event ids are in the command's `source` already.
      out.push({ topic: this.#o.commandsTopic, key: cmd.key, value: cmd.value, headers: { op: cmd.op } });
      tally.command(cmd.op, cmd.key.slice(0, cmd.key.indexOf(':')));
    }
  }

  #deadLetter(ev: RawStreamEvent, reason: string, detail: string, now: Date, skipped?: SkippedEvent): OutgoingRecord {
    this.#o.metrics.deadLetters.inc({ reason });
    this.#o.logger.warn({ stream: ev.streamId, eventId: ev.id, event: ev.name, reason, detail, ...skipped }, 'event sent to the dead-letter topic');
    return deadLetterRecord(this.#o.dlqTopic, {
      origin: 'stream-listener',
      reason,
      detail,
      event: { streamId: ev.streamId, eventId: ev.id, eventName: ev.name, ...skipped },
      raw: ev.data,
      partial: skipped !== undefined,
      at: now,
    });
  }

  async #waitForEvents(signal: AbortSignal): Promise<void> {
    const ac = new AbortController();
    const stop = (): void => ac.abort();
    signal.addEventListener('abort', stop, { once: true });
    try {
      await Promise.race(this.#o.streams.map((s) => s.queue.waitForItems(ac.signal)));
    } finally {
      ac.abort();
      signal.removeEventListener('abort', stop);
    }
  }
}

/** A round that starts or ends a resync (its markers, its checkpoint's resync state). */
function changesResync(round: Round): boolean {
  return round.taken.some((t) => t.resync !== t.before);
}

/** What a record weighs in a round (strings by their length: a lower bound of their bytes, not an exact size). */
function recordBytes(r: OutgoingRecord): number {
  return r.key.length + (r.value?.length ?? 0);
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s.slice(0, 200);
  }
}
