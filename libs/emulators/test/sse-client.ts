// A raw SSE reader for tests: keeps the exact bytes received and parses them without any SSE library,
// so the tests assert the wire format itself.
import { request } from 'node:http';
import type { IncomingMessage } from 'node:http';

export interface RawEvent {
  id?: string;
  event?: string;
  data?: string;
  raw: string;
}

export interface SseConnection {
  status: number;
  statusMessage: string;
  headers: IncomingMessage['headers'];
  /** Every byte received so far, as text. */
  text(): string;
  events: RawEvent[];
  /** Resolves once `count` events have arrived (or rejects after timeoutMs). */
  waitForEvents(count: number, timeoutMs?: number): Promise<RawEvent[]>;
  waitFor(predicate: (e: RawEvent) => boolean, timeoutMs?: number): Promise<RawEvent>;
  ended: Promise<void>;
  close(): void;
}

function parseBlock(block: string): RawEvent {
  const event: RawEvent = { raw: block };
  for (const line of block.split('\n')) {
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'id') event.id = value;
    else if (field === 'event') event.event = value;
    else if (field === 'data') event.data = event.data === undefined ? value : `${event.data}\n${value}`;
  }
  return event;
}

export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseConnection> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, (res) => {
      let received = '';
      let buffer = '';
      const events: RawEvent[] = [];
      const waiters = new Set<() => void>();
      let resolveEnded!: () => void;
      const ended = new Promise<void>((r) => (resolveEnded = r));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        received += chunk;
        // Scan only the new text (a large event spans many chunks).
        let from = Math.max(0, buffer.length - 1);
        buffer += chunk;
        let index: number;
        while ((index = buffer.indexOf('\n\n', from)) !== -1) {
          events.push(parseBlock(buffer.slice(0, index)));
          buffer = buffer.slice(index + 2);
          from = 0;
        }
        for (const w of waiters) w();
      });
      const finish = (): void => {
        resolveEnded();
        for (const w of waiters) w();
      };
      res.on('end', finish);
      res.on('close', finish);
      res.on('error', finish);
      let done = false;
      res.on('close', () => (done = true));
      const waitUntil = <T>(check: () => T | undefined, timeoutMs: number): Promise<T> =>
        new Promise((ok, fail) => {
          const attempt = (): void => {
            const value = check();
            if (value !== undefined) {
              cleanup();
              ok(value);
            } else if (done) {
              cleanup();
              fail(new Error(`stream ended; got ${events.length} events:\n${received.slice(0, 2000)}`));
            }
          };
          const timer = setTimeout(() => {
            cleanup();
            fail(new Error(`timeout; got ${events.length} events:\n${received.slice(-2000)}`));
          }, timeoutMs);
          const cleanup = (): void => {
            clearTimeout(timer);
            waiters.delete(attempt);
          };
          waiters.add(attempt);
          attempt();
        });
      resolve({
        status: res.statusCode ?? 0,
        statusMessage: res.statusMessage ?? '',
        headers: res.headers,
        text: () => received,
        events,
        waitForEvents: (count, timeoutMs = 5000) => waitUntil(() => (events.length >= count ? events.slice(0, count) : undefined), timeoutMs),
        waitFor: (predicate, timeoutMs = 5000) => waitUntil(() => events.find(predicate), timeoutMs),
        ended,
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

export function json(event: RawEvent): Record<string, unknown> {
  return JSON.parse(event.data ?? 'null') as Record<string, unknown>;
}
