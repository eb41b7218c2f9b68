// Drains the stream queues into Kafka. Each round takes what is queued (natural batching: events
// pile up while the previous transaction is in flight), normalizes it, and writes the commands,
// the dead letters and the new checkpoint of every stream in ONE Kafka transaction, so a
// checkpoint can never get ahead of the commands it covers, and a fenced (stale) listener cannot
// publish anything.
import { encodeCommand, MAX_COMMAND_BYTES, normalizeEvent, type MarkingRegistry, type StreamEventName } from '@octi-defender/indicators';
import type { OutgoingRecord, TransactionalProducer } from '@octi-defender/kafka';
import type { Logger } from '@octi-defender/platform';
import { encodeCheckpoint, type Checkpoint } from './checkpoint.ts';
import type { EventQueue } from './event-queue.ts';
import type { ListenerMetrics } from './metrics.ts';
import type { RawStreamEvent } from './stream-reader.ts';
import { markerRecords, replayEnd, replayEndedBy, type ResyncState } from './resync.ts';
import { EVENT_ID, laterOf, safeCheckpoint } from './stream-position.ts';

const DATA_EVENTS: ReadonlySet<string> = new Set<StreamEventName>(['create', 'update', 'delete', 'merge']);
/** The raw event kept in a dead letter is cut to this many characters (≤ ~200 KB once escaped). */
const MAX_DEAD_LETTER_RAW = 32 * 1024;
/** A round stops taking events past this much event data, keeping transactions far below message.max.bytes. */
const MAX_ROUND_CHARS = 512 * 1024;

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

export interface DeadLetter {
  readonly origin: 'stream-listener';
  readonly reason: string;
  readonly detail: string;
  readonly streamId: string;
  readonly eventId: string;
  readonly eventName: string;
  readonly raw: string;
  readonly truncated: boolean;
  /** Skipped events (`oversized_event` from the reader, `stuck_position`): `raw` is their head. */
  readonly size?: number;
  readonly entityType?: string;
  readonly entityId?: string;
  readonly at: string;
}

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

export class Publisher {
  readonly #o: PublisherOptions;
  readonly #now: () => Date;

  constructor(options: PublisherOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
  }

  /** Publishes until `signal` aborts; rejects on a Kafka failure (including being fenced). */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const published = await this.publishOnce();
      if (published === 0) await this.#waitForEvents(signal);
    }
  }

  /** One transaction over everything queued (up to maxBatch per stream). Returns the events consumed. */
  async publishOnce(): Promise<number> {
    const records: OutgoingRecord[] = [];
    const taken: Array<{ slot: StreamSlot; count: number; checkpoint: Checkpoint | undefined; before: ResyncState | undefined; resync: ResyncState | undefined; replayed: number }> = [];
    const now = this.#now();
    let chars = 0;
    for (const slot of this.#o.streams) {
      const peeked = slot.queue.peek(this.#o.maxBatch);
      if (peeked.length === 0) continue;
      let n = 0;
      while (n < peeked.length && (n === 0 || chars < MAX_ROUND_CHARS)) chars += (peeked[n++] as RawStreamEvent).data.length;
      const events = n === peeked.length ? peeked : peeked.slice(0, n);
      let resync = slot.resync;
      let replayed = slot.replayed;
      let base = slot.checkpoint?.lastEventId;
      let seen = slot.checkpoint?.seen;
      if (resync?.phase === 'begin') {
        records.push(...markerRecords(this.#o.commandsTopic, slot.streamId, resync, 'begin', this.#o.commandsPartitions, now));
        resync = { ...resync, phase: 'replaying' };
      }
      let progress: Array<{ id: string; heartbeat: boolean }> = [];
      for (const ev of events) {
        if (resync?.phase === 'replaying' && replayEndedBy(resync, ev.id)) {
          records.push(...markerRecords(this.#o.commandsTopic, slot.streamId, resync, 'end', this.#o.commandsPartitions, now));
          this.#o.logger.info({ stream: slot.streamId, epoch: resync.epoch, reason: resync.reason, replayed, startedAt: resync.startedAt }, 'resync replay complete; writers retract what it did not assert');
          // The live tail starts after the recover point; what the replay carried proves nothing.
          base = laterOf(base, replayEnd(resync));
          seen = laterOf(seen, replayEnd(resync));
          resync = undefined;
          progress = [];
        }
        this.#o.metrics.events.inc({ stream: slot.streamId, event: ev.name });
        this.#route(ev, now, records);
        if (resync) {
          if (DATA_EVENTS.has(ev.name)) replayed += 1;
          continue;
        }
        if (EVENT_ID.test(ev.id) && (ev.name === 'heartbeat' || DATA_EVENTS.has(ev.name))) {
          progress.push({ id: ev.id, heartbeat: ev.name === 'heartbeat' });
          if (ev.name !== 'heartbeat') seen = laterOf(seen, ev.id);
        }
      }
      const next = slot.queue.peek(events.length + 1)[events.length];
      const lastEventId = resync ? (base ?? '0-0') : safeCheckpoint(progress, next, base);
      let checkpoint = slot.checkpoint;
      const resyncChanged = resync !== slot.resync || slot.resyncRequest !== slot.checkpoint?.resyncRequest;
      if (lastEventId !== undefined && (lastEventId !== slot.checkpoint?.lastEventId || resyncChanged || seen !== slot.checkpoint?.seen)) {
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
      taken.push({ slot, count: events.length, checkpoint, before: slot.resync, resync, replayed });
    }
    if (taken.length === 0) return 0;

    if (records.length > 0) {
      const end = this.#o.metrics.publishSeconds.startTimer();
      await this.#o.producer.transaction((tx) => tx.send(records));
      const seconds = end();
      this.#o.logger.debug({ records: records.length, seconds }, 'published');
    }
    let consumed = 0;
    for (const t of taken) {
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
    return consumed;
  }

  #route(ev: RawStreamEvent, now: Date, out: OutgoingRecord[]): void {
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
    let encoded: Array<{ key: string; op: string; value: Buffer }>;
    try {
      result = normalizeEvent({ streamId: ev.streamId, id: ev.id, name: ev.name as StreamEventName, data }, now, this.#o.markings);
      encoded = result.commands.map((cmd) => ({ key: cmd.key, op: cmd.op, value: encodeCommand(cmd) }));
    } catch (err) {
      out.push(this.#deadLetter(ev, 'normalize_error', (err as Error).message, now));
      return;
    }
    const tooLarge = encoded.find((c) => c.value.length > MAX_COMMAND_BYTES);
    if (tooLarge) {
      out.push(this.#deadLetter(ev, 'oversized_event', `command for ${tooLarge.key} is ${tooLarge.value.length} bytes, limit ${MAX_COMMAND_BYTES}`, now));
      return;
    }
    this.#o.logger.debug({ stream: ev.streamId, eventId: ev.id, event: ev.name, commands: encoded.length, rejects: result.rejects.length }, 'normalized');
    for (const r of result.rejects) {
      if (r.reason === 'malformed_event') {
        out.push(this.#deadLetter(ev, r.reason, r.detail, now));
        continue;
      }
      this.#o.metrics.rejects.inc({ reason: r.reason });
      this.#o.logger.info({ stream: ev.streamId, eventId: ev.id, reason: r.reason, detail: r.detail, value: r.value, stixId: r.stixId }, 'value not sent to Defender');
    }
    for (const cmd of encoded) {
      out.push({
        topic: this.#o.commandsTopic,
        key: cmd.key,
        value: cmd.value,
        headers: { op: cmd.op, 'stream-id': ev.streamId, 'event-id': ev.id },
      });
      this.#o.metrics.commands.inc({ op: cmd.op, type: cmd.key.slice(0, cmd.key.indexOf(':')) });
    }
  }

  #deadLetter(ev: RawStreamEvent, reason: string, detail: string, now: Date, skipped?: SkippedEvent): OutgoingRecord {
    this.#o.metrics.deadLetters.inc({ reason });
    this.#o.logger.warn({ stream: ev.streamId, eventId: ev.id, event: ev.name, reason, detail, ...skipped }, 'event sent to the dead-letter topic');
    const truncated = ev.data.length > MAX_DEAD_LETTER_RAW;
    const letter: DeadLetter = {
      origin: 'stream-listener',
      reason,
      detail,
      streamId: ev.streamId,
      eventId: ev.id,
      eventName: ev.name,
      raw: truncated ? ev.data.slice(0, MAX_DEAD_LETTER_RAW) : ev.data,
      truncated: truncated || skipped !== undefined,
      ...skipped,
      at: now.toISOString(),
    };
    return {
      topic: this.#o.dlqTopic,
      key: `${ev.streamId}:${ev.id || 'no-id'}`,
      value: JSON.stringify(letter),
      headers: { origin: 'stream-listener', reason },
    };
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

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s.slice(0, 200);
  }
}
