// What one publisher round adds to the counters, held until its transaction commits: a round that
// fails (Kafka down, fenced) or is dropped behind a failed one counts nothing, so the counters say
// what Kafka holds, and the events a new term reads again are counted once.
import type { ListenerMetrics } from './metrics.ts';

export class RoundTally {
  readonly #events = new Map<string, { stream: string; event: string; n: number }>();
  readonly #commands = new Map<string, { op: string; type: string; n: number }>();
  readonly #rejects = new Map<string, number>();

  event(stream: string, event: string): void {
    const key = `${stream}\u0000${event}`;
    const entry = this.#events.get(key);
    if (entry) entry.n += 1;
    else this.#events.set(key, { stream, event, n: 1 });
  }

  command(op: string, type: string): void {
    const key = `${op}\u0000${type}`;
    const entry = this.#commands.get(key);
    if (entry) entry.n += 1;
    else this.#commands.set(key, { op, type, n: 1 });
  }

  reject(reason: string): void {
    this.#rejects.set(reason, (this.#rejects.get(reason) ?? 0) + 1);
  }

  /** Adds the tally to the counters: call once the round's transaction committed. */
  countIn(metrics: ListenerMetrics): void {
    for (const { stream, event, n } of this.#events.values()) metrics.events.inc({ stream, event }, n);
    for (const { op, type, n } of this.#commands.values()) metrics.commands.inc({ op, type }, n);
    for (const [reason, n] of this.#rejects) metrics.rejects.inc({ reason }, n);
  }
}
