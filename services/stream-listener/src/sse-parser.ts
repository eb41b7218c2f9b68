// A server-sent events parser (WHATWG HTML §9.2.6) over raw bytes with a bound on one event: an
// event larger than `maxEventBytes` is not kept in memory but reported with its size and the first
// bytes of its data, and parsing goes on with the next event. Libraries bound the buffer by failing
// the connection, which wedges a client that resumes at the same position forever.

export interface SseMessage {
  /** The `id:` of this message ('' when it had none; unlike the spec, ids do not carry over). */
  readonly id: string;
  /** The `event:` name, `message` by default. */
  readonly name: string;
  readonly data: string;
  /** Set when the event was over the bound: `data` is empty. */
  readonly oversized?: { readonly bytes: number; readonly head: string };
}

export interface PartialEvent {
  readonly id: string;
  readonly name: string;
  /** Bytes of the event received so far. */
  readonly bytes: number;
  readonly head: string;
}

const LF = 0x0a;
const CR = 0x0d;
const decoder = new TextDecoder('utf-8');

export class SseParser {
  readonly #max: number;
  readonly #headBytes: number;
  readonly #emit: (m: SseMessage) => void;
  /** Pieces of the line being read (none kept once the event is oversized). */
  #line: Uint8Array[] = [];
  #lineBytes = 0;
  #skipLf = false;
  #id = '';
  #name = '';
  #data: string[] = [];
  #eventBytes = 0;
  #oversized = false;
  #head = '';

  constructor(options: { maxEventBytes: number; headBytes?: number; onMessage: (m: SseMessage) => void }) {
    this.#max = options.maxEventBytes;
    this.#headBytes = options.headBytes ?? 4096;
    this.#emit = options.onMessage;
  }

  /** The event being received, if any byte of it arrived (what a connection cut in the middle of). */
  partial(): PartialEvent | undefined {
    if (this.#eventBytes === 0 && this.#lineBytes === 0) return undefined;
    return { id: this.#id, name: this.#name, bytes: this.#eventBytes + this.#lineBytes, head: this.#head };
  }

  feed(chunk: Uint8Array): void {
    let pos = 0;
    if (this.#skipLf && chunk.length > 0) {
      this.#skipLf = false;
      if (chunk[0] === LF) pos = 1;
    }
    // The next CR is looked up once per chunk, not once per line (OpenCTI sends LF only).
    let cr = chunk.indexOf(CR, pos);
    while (pos < chunk.length) {
      if (cr >= 0 && cr < pos) cr = chunk.indexOf(CR, pos);
      const lf = chunk.indexOf(LF, pos);
      const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(lf, cr);
      if (end < 0) {
        this.#append(chunk.subarray(pos));
        return;
      }
      this.#append(chunk.subarray(pos, end));
      this.#endLine();
      if (chunk[end] === CR) {
        if (end + 1 < chunk.length) pos = chunk[end + 1] === LF ? end + 2 : end + 1;
        else {
          this.#skipLf = true;
          pos = end + 1;
        }
      } else pos = end + 1;
    }
  }

  #append(piece: Uint8Array): void {
    if (piece.length === 0) return;
    this.#lineBytes += piece.length;
    if (this.#oversized) {
      this.#keepHead(piece);
      return;
    }
    this.#line.push(piece);
    if (this.#eventBytes + this.#lineBytes > this.#max) {
      // Over the bound: keep only the head of the data for the report, drop everything else.
      const line = concat(this.#line);
      this.#line = [];
      this.#oversized = true;
      this.#head = this.#data.join('\n').slice(0, this.#headBytes);
      this.#data = [];
      if (this.#head.length < this.#headBytes) this.#keepHead(startsWith(line, 'data') ? fieldValue(line) : new Uint8Array());
    }
  }

  #keepHead(piece: Uint8Array): void {
    if (this.#head.length >= this.#headBytes) return;
    this.#head += decoder.decode(piece.subarray(0, this.#headBytes - this.#head.length));
  }

  #endLine(): void {
    const bytes = this.#lineBytes;
    const pieces = this.#line;
    this.#line = [];
    this.#lineBytes = 0;
    if (bytes === 0) {
      this.#dispatch();
      return;
    }
    this.#eventBytes += bytes;
    if (this.#oversized) return;
    const line = concat(pieces);
    if (line[0] === 0x3a) return; // ':' comment
    const colon = line.indexOf(0x3a);
    const field = colon < 0 ? decoder.decode(line) : fieldName(line, colon);
    const value = colon < 0 ? '' : decoder.decode(fieldValue(line));
    switch (field) {
      case 'data':
        this.#data.push(value);
        if (this.#head === '') this.#head = value.slice(0, this.#headBytes);
        break;
      case 'event':
        this.#name = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.#id = value;
        break;
      default:
        // `retry` and unknown fields: reconnection delays are the reader's own.
        break;
    }
  }

  #dispatch(): void {
    const id = this.#id;
    const name = this.#name || 'message';
    if (this.#oversized) this.#emit({ id, name, data: '', oversized: { bytes: this.#eventBytes, head: this.#head } });
    else if (this.#data.length > 0) this.#emit({ id, name, data: this.#data.join('\n') });
    this.#id = '';
    this.#name = '';
    this.#data = [];
    this.#eventBytes = 0;
    this.#oversized = false;
    this.#head = '';
  }
}

/** The field name before the colon; the three OpenCTI sends are recognised without decoding. */
function fieldName(line: Uint8Array, colon: number): string {
  if (colon === 4 && line[0] === 0x64 && line[1] === 0x61 && line[2] === 0x74 && line[3] === 0x61) return 'data';
  if (colon === 2 && line[0] === 0x69 && line[1] === 0x64) return 'id';
  if (colon === 5 && line[0] === 0x65 && line[1] === 0x76 && line[2] === 0x65 && line[3] === 0x6e && line[4] === 0x74) return 'event';
  return decoder.decode(line.subarray(0, colon));
}

function concat(pieces: Uint8Array[]): Uint8Array {
  return pieces.length === 1 ? (pieces[0] as Uint8Array) : Buffer.concat(pieces);
}

function startsWith(line: Uint8Array, field: string): boolean {
  return decoder.decode(line.subarray(0, field.length)) === field;
}

/** The value after `field:` with one leading space removed. */
function fieldValue(line: Uint8Array): Uint8Array {
  const colon = line.indexOf(0x3a);
  if (colon < 0) return new Uint8Array();
  const start = line[colon + 1] === 0x20 ? colon + 2 : colon + 1;
  return line.subarray(start);
}
