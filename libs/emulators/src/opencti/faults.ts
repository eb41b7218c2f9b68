// Faults a test injects into the platform: malformed events in the log, connections cut while they
// write an event, and an API outage of /graphql while the streams go on.
import { HttpError } from '../http.ts';
import { DEFAULT_ORIGIN } from './event-writer.ts';
import type { StixObject } from './stix.ts';

export const MALFORMED_KINDS = ['bad-json', 'unknown-event', 'missing-fields', 'oversized'] as const;
export type MalformedKind = (typeof MALFORMED_KINDS)[number];

/** Connections to a stream cut while they write one event: after its dependencies, or inside its data. */
export interface ConnectionCut {
  eventId: string;
  at: 'after-dependencies' | 'inside';
  /** How many connections are cut there (default 1; Infinity = every one). */
  times?: number;
}

/** The raw SSE event name and data of a malformed event built around a valid indicator. */
export function malformedEvent(kind: MalformedKind, sample: StixObject, options: { size?: number } = {}): { rawEvent: string; json: string } {
  const valid = JSON.stringify({ version: '4', type: 'create', scope: 'external', message: 'creates a Indicator', origin: DEFAULT_ORIGIN, data: sample });
  switch (kind) {
    case 'bad-json':
      return { rawEvent: 'create', json: valid.slice(0, Math.floor(valid.length / 2)) };
    case 'unknown-event':
      return { rawEvent: 'frobnicate', json: valid };
    case 'missing-fields':
      return { rawEvent: 'create', json: JSON.stringify({ version: '4', type: 'create', scope: 'external', message: 'creates a Indicator', origin: DEFAULT_ORIGIN }) };
    case 'oversized': {
      const size = options.size ?? 8 * 1024 * 1024;
      const shell = JSON.stringify({ version: '4', type: 'create', scope: 'external', message: 'creates a Indicator', origin: DEFAULT_ORIGIN, data: { ...sample, description: '' } });
      return { rawEvent: 'create', json: shell.replace('"description":""', `"description":"${'x'.repeat(Math.max(0, size - shell.length))}"`) };
    }
    default:
      throw new HttpError(400, `unknown malformed kind ${kind as string} (one of ${MALFORMED_KINDS.join(', ')})`);
  }
}

/** Cuts pending, each for the connections opened after it was set. */
export class ConnectionCuts {
  readonly #cuts: Array<ConnectionCut & { after: number }> = [];

  /** A cut for connections whose serial is above `lastSerial` (those opened from now on). */
  add(cut: ConnectionCut, lastSerial: number): void {
    this.#cuts.push({ ...cut, after: lastSerial });
  }

  /** Consumes one use of a cut set on this event id for this connection, if any. */
  take(serial: number, eventId: string): ConnectionCut | undefined {
    const i = this.#cuts.findIndex((c) => c.eventId === eventId && serial > c.after);
    if (i < 0) return undefined;
    const cut = this.#cuts[i]!;
    const left = (cut.times ?? 1) - 1;
    if (left <= 0) this.#cuts.splice(i, 1);
    else this.#cuts[i] = { ...cut, times: left };
    return cut;
  }
}

/** While down, POST /graphql answers this HTTP status. */
export class GraphqlOutage {
  status: number | undefined;

  /** true: 503; false or undefined: up; a number: that status. */
  set(down: boolean | number | undefined): void {
    this.status = down === true ? 503 : down === false ? undefined : down;
  }
}
