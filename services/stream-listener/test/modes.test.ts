// The listener's role and the reader's connection states: the README's drawings equal the tables,
// the tables refuse invalid moves, and the reader reports each reconnection under its cause.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidTransitionError, parseMermaidTransitions, StateMachine, transitionEdges } from '@octi-defender/platform';
import { LISTENER_ROLES } from '../src/listener-role.ts';
import { READER_STATES } from '../src/reader-state.ts';
import { StreamReader, type ReaderStateDetail } from '../src/stream-reader.ts';
import type { ReaderState } from '../src/reader-state.ts';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

test("the README's drawing of the listener role is the role's transition table", () => {
  assert.deepEqual(parseMermaidTransitions(README, 'Listener role'), transitionEdges(LISTENER_ROLES, 'starting'));
});

test("the README's drawing of the reader connection is the reader's transition table", () => {
  assert.deepEqual(parseMermaidTransitions(README, 'Stream reader connection'), transitionEdges(READER_STATES, 'idle'));
});

test('the listener role refuses moves that skip a step', () => {
  const role = new StateMachine({ name: 'listener role', transitions: LISTENER_ROLES, initial: 'starting' });
  // Active only through activating, standby again only once the term has stopped.
  assert.throws(() => role.to('active'), InvalidTransitionError);
  role.to('standby');
  role.to('activating');
  role.to('active');
  assert.throws(() => role.to('standby'), /listener role: invalid transition active -> standby/);
  assert.throws(() => role.to('activating'), InvalidTransitionError);
  role.to('deactivating');
  assert.throws(() => role.to('active'), InvalidTransitionError);
  assert.throws(() => role.to('closing'), InvalidTransitionError);
  role.to('standby');
  role.to('closing');
  assert.throws(() => role.to('standby'), InvalidTransitionError);
  role.to('closed');
  for (const next of Object.keys(LISTENER_ROLES) as Array<keyof typeof LISTENER_ROLES>) assert.equal(role.can(next), false, `closed -> ${next}`);
});

test('the reader connection refuses moves that skip a step', () => {
  const reader = new StateMachine({ name: 'stream reader', transitions: READER_STATES, initial: 'idle' });
  assert.throws(() => reader.to('connected'), InvalidTransitionError);
  assert.throws(() => reader.to('backoff'), InvalidTransitionError);
  reader.to('connecting');
  reader.to('connected');
  // A refusal for a configuration reason comes with the response, never once streaming.
  assert.throws(() => reader.to('config-error'), InvalidTransitionError);
  assert.throws(() => reader.to('connecting'), InvalidTransitionError);
  reader.to('closed');
  assert.throws(() => reader.to('connecting'), /stream reader: invalid transition closed -> connecting \(from closed: none, it is final\)/);
});

interface Served {
  readonly url: string;
  close(): Promise<void>;
}

/** An HTTP server answering each request with `answer`. */
async function serve(answer: (res: ServerResponse, n: number) => void): Promise<Served> {
  let n = 0;
  const open = new Set<ServerResponse>();
  const server = createServer((_req, res) => {
    open.add(res);
    res.on('close', () => open.delete(res));
    answer(res, n++);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      for (const res of open) res.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function reader(url: string, changes: Array<[ReaderState, ReaderStateDetail]>, extra: { heartbeatTimeoutMs?: number; onEvent?: (name: string, r: StreamReader) => void } = {}): StreamReader {
  const r: StreamReader = new StreamReader({
    baseUrl: url,
    token: 't',
    streamId: 's1',
    listenDelete: true,
    noDependencies: true,
    withInferences: false,
    position: () => ({ from: undefined, recover: undefined }),
    onEvent: (ev) => extra.onEvent?.(ev.name, r),
    hasRoom: () => true,
    waitForRoom: () => Promise.resolve(),
    backoff: { minMs: 10, maxMs: 20 },
    configErrorRetryMs: 60_000,
    heartbeatTimeoutMs: extra.heartbeatTimeoutMs ?? 60_000,
    maxEventBytes: 1024 * 1024,
    maxPositionFailures: 5,
    onStateChange: (state, detail) => changes.push([state, detail]),
  });
  return r;
}

async function until(what: string, probe: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function streamOpen(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  res.write('event: connected\ndata: {}\n\n');
}

test('the reader reports a resync reconnection as resync, not as the watchdog', async (t) => {
  const server = await serve(streamOpen);
  t.after(() => server.close());
  const changes: Array<[ReaderState, ReaderStateDetail]> = [];
  let asked = false;
  const r = reader(server.url, changes, {
    onEvent: (name, self) => {
      if (name !== 'connected' || asked) return;
      asked = true;
      queueMicrotask(() => self.reconnect('resync'));
    },
  });
  t.after(() => r.close());
  r.start();
  await until('connected again', () => changes.filter(([s]) => s === 'connected').length >= 2);
  assert.deepEqual(changes.slice(0, 5).map(([s, d]) => [s, d.cause]), [
    ['connecting', undefined],
    ['connected', undefined],
    ['backoff', 'resync'],
    ['connecting', undefined],
    ['connected', undefined],
  ]);
  assert.equal(changes[2]?.[1].delayMs, 0);
});

test('the reader reports a silent stream as watchdog, a hang-up as network, a refusal as config', async (t) => {
  const silent = await serve(streamOpen);
  t.after(() => silent.close());
  const changes: Array<[ReaderState, ReaderStateDetail]> = [];
  const quiet = reader(silent.url, changes, { heartbeatTimeoutMs: 100 });
  t.after(() => quiet.close());
  quiet.start();
  await until('a watchdog reconnection', () => changes.some(([s]) => s === 'backoff'));
  assert.deepEqual(changes.filter(([s]) => s === 'backoff').map(([, d]) => d.cause).slice(0, 1), ['watchdog']);

  const hangUp = await serve((res) => {
    streamOpen(res);
    res.end();
  });
  t.after(() => hangUp.close());
  const ended: Array<[ReaderState, ReaderStateDetail]> = [];
  const cut = reader(hangUp.url, ended);
  t.after(() => cut.close());
  cut.start();
  await until('a reconnection after the hang-up', () => ended.some(([s]) => s === 'backoff'));
  assert.equal(ended.find(([s]) => s === 'backoff')?.[1].cause, 'network');

  const refusing = await serve((res) => {
    res.writeHead(401);
    res.end();
  });
  t.after(() => refusing.close());
  const refused: Array<[ReaderState, ReaderStateDetail]> = [];
  const denied = reader(refusing.url, refused);
  t.after(() => denied.close());
  denied.start();
  await until('a configuration error', () => refused.some(([s]) => s === 'config-error'));
  assert.deepEqual(refused.find(([s]) => s === 'config-error')?.[1], { status: 401, message: 'Unauthorized', delayMs: 60_000, cause: 'config' });
});

test('a reader reconnects only between start and close, and closes once', async () => {
  const changes: Array<[ReaderState, ReaderStateDetail]> = [];
  const r = reader('http://127.0.0.1:9', changes);
  r.reconnect('resync');
  assert.equal(r.state, 'idle', 'nothing to reconnect before start');
  await r.close();
  await r.close();
  r.reconnect('resync');
  assert.deepEqual(changes.map(([s]) => s), ['closed']);
});
