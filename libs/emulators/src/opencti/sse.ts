// The SSE wire format as sseMiddleware.js writes it, and writing it to a connection with backpressure.
import type { Connection } from './streams.ts';

export const SSE_HEADERS = {
  Connection: 'keep-alive',
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Access-Control-Allow-Origin': '*',
  'Cache-Control': 'no-cache, no-transform',
};

/** Writes are batched up to this size; larger events are written in slices of it. */
export const WRITE_CHUNK = 64 * 1024;

export function sseEvent(id: string | undefined, event: string, data: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${data}\n\n`;
}

/** A heartbeat carrying `id` and, as data, the ISO date of its time part. */
export function heartbeatEvent(id: string): string {
  return sseEvent(id, 'heartbeat', JSON.stringify(new Date(Number(id.split('-')[0])).toISOString()));
}

/** Writes and waits for the socket to drain when its buffer is full (or the connection closes). */
export async function writeChunk(conn: Connection, chunk: string): Promise<void> {
  if (conn.closed || chunk === '') return;
  if (!conn.res.write(chunk)) {
    await new Promise<void>((resolve) => {
      conn.wake = resolve;
      conn.res.once('drain', resolve);
    });
    conn.wake = undefined;
  }
}

/** Writes a large string in slices so the socket's buffer, not a second copy, holds what is in flight. */
export async function writeLarge(conn: Connection, text: string): Promise<void> {
  // OpenCTI writes each message whole: no heartbeat may land inside this one.
  conn.midEvent = true;
  try {
    for (let at = 0; at < text.length && !conn.closed; at += WRITE_CHUNK) await writeChunk(conn, text.slice(at, at + WRITE_CHUNK));
  } finally {
    conn.midEvent = false;
  }
}
