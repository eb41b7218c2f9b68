// What redriving one dead letter publishes, decided without Kafka:
// - a writer letter about a command Defender refused (or the writer could not apply: only its key is
//   in the letter) re-publishes the latest command of each source for that key, as read from the
//   commands topic, marked `redrive: <letter id>`: the writer folds a command it already holds into
//   the same claims and re-plans the key, sending even a version Defender refused before (the cause
//   was fixed in Defender) once; a second redrive finds the key applied and costs no call;
// - a writer letter about a record it could not decode re-publishes that record's raw text;
// - a listener letter re-normalizes the event (the listener's normalizeEvent) and publishes its commands.
// Every published record carries the header `redrive: <letter id>`.
import { encodeCommandJson, MarkingRegistry, normalizeEvent, type Command, type StreamEventName } from '@octi-defender/indicators';
import type { OutgoingRecord } from '@octi-defender/kafka';
import type { DeadLetterView } from './letters.ts';

/** A command as read from the commands topic. */
export type StoredCommand = Command;

type RedriveStep = { readonly action: 'publish'; readonly records: readonly OutgoingRecord[] } | { readonly action: 'skip'; readonly why: string };

/** Writer reasons carrying only the indicator key: the command is found again on the commands topic. */
export function needsCommandLookup(l: DeadLetterView): boolean {
  return l.service === 'defender-writer' && l.source === undefined;
}

const DATA_EVENTS: ReadonlySet<string> = new Set(['create', 'update', 'delete', 'merge']);

export function planRedrive(l: DeadLetterView, commandsTopic: string, latest: ReadonlyMap<string, readonly StoredCommand[]>, now: Date): RedriveStep {
  const headers = (op: string): Record<string, string> => ({ op, redrive: l.id });
  if (l.service === 'defender-writer') {
    if (l.source !== undefined) {
      if (l.raw === undefined || l.reason === 'empty_value') return { action: 'skip', why: 'the record had no value: nothing to re-send' };
      if (l.truncated) return { action: 'skip', why: 'the dead letter holds only the head of the record (truncated)' };
      const op = /"op"\s*:\s*"(\w+)"/.exec(l.raw)?.[1] ?? 'upsert';
      return { action: 'publish', records: [{ topic: commandsTopic, key: l.recordKey, value: l.raw, headers: headers(op) }] };
    }
    const found = latest.get(l.key) ?? [];
    if (found.length === 0) return { action: 'skip', why: `no command for ${l.key} left on ${commandsTopic} (past its retention): re-send it from OpenCTI (resync)` };
    return { action: 'publish', records: found.map((c) => ({ topic: commandsTopic, key: c.key, value: encodeCommandJson({ ...c, redrive: l.id }), headers: headers(c.op) })) };
  }
  if (l.service === 'stream-listener') {
    if (l.raw === undefined || l.truncated) return { action: 'skip', why: 'the dead letter holds only the head of the event (truncated or skipped): replay the stream from before it instead' };
    if (!DATA_EVENTS.has(l.eventName ?? '') || l.streamId === undefined || l.eventId === undefined) {
      return { action: 'skip', why: `event ${JSON.stringify(l.eventName)} is not create, update, delete or merge` };
    }
    let data: unknown;
    try {
      data = JSON.parse(l.raw);
    } catch (err) {
      return { action: 'skip', why: `the event is not JSON (${(err as Error).message})` };
    }
    let commands;
    try {
      commands = normalizeEvent({ streamId: l.streamId, id: l.eventId, name: l.eventName as StreamEventName, data }, now, new MarkingRegistry()).commands;
    } catch (err) {
      return { action: 'skip', why: `still fails to normalize: ${(err as Error).message}` };
    }
    if (commands.length === 0) return { action: 'skip', why: 'the event normalizes to no command' };
    return { action: 'publish', records: commands.map((c) => ({ topic: commandsTopic, key: c.key, value: encodeCommandJson({ ...c, redrive: l.id }), headers: headers(c.op) })) };
  }
  return { action: 'skip', why: 'dead letter of an unknown service' };
}
