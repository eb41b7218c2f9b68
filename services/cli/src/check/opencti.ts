// OpenCTI checks: the platform answers, the token is accepted, each live stream is readable. One
// request per stream to GET /stream/<id>, as the listener connects, closed once the headers are in.
// OpenCTI answers 401 both for a bad token ("You are not authenticated") and for a stream that does
// not exist or that the user may not read ("You are not authorized"); 410 for a stopped stream.
import { readFileSync } from 'node:fs';
import { Agent, fetch } from 'undici';
import type { ListenerConfig } from '@octi-defender/stream-listener';
import type { CheckResult } from '../findings.ts';

const HEADERS_TIMEOUT_MS = 10_000;

type Answer = { readonly status: number; readonly statusText: string; readonly contentType: string } | { readonly error: string };

async function probe(c: ListenerConfig, agent: Agent, streamId: string): Promise<Answer> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`no answer within ${HEADERS_TIMEOUT_MS / 1000} s`)), HEADERS_TIMEOUT_MS);
  try {
    const res = await fetch(`${c.openctiUrl}/stream/${encodeURIComponent(streamId)}`, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${c.openctiToken}`, 'cache-control': 'no-cache' },
      signal: ac.signal,
      dispatcher: agent,
    });
    const answer = { status: res.status, statusText: res.statusText, contentType: res.headers.get('content-type') ?? '' };
    await res.body?.cancel().catch(() => undefined);
    return answer;
  } catch (err) {
    const e = err as Error & { cause?: Error & { code?: string } };
    return { error: e.cause?.code ?? e.cause?.message ?? e.message };
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

const NOT_AUTHENTICATED = /not authenticated/i;

function openctiFindings(c: ListenerConfig, answers: ReadonlyMap<string, Answer>): CheckResult[] {
  const all = [...answers.values()];
  const reached = all.filter((a): a is Exclude<Answer, { error: string }> => !('error' in a));
  const results: CheckResult[] = [];
  if (reached.length === 0) {
    const error = all.find((a): a is { error: string } => 'error' in a)?.error ?? 'no answer';
    const tls = /CERT|SSL|TLS|self.signed|UNABLE_TO/i.test(error);
    results.push({
      name: `OpenCTI reachable at ${c.openctiUrl}`,
      ok: false,
      detail: error,
      fix: tls ? 'OpenCTI’s certificate is not trusted: set OPENCTI_SSL_CA_FILE to the PEM of the CA that signed it' : 'check OPENCTI_URL (scheme, host, port) and that this machine may reach it',
    });
    return results;
  }
  results.push({ name: `OpenCTI reachable at ${c.openctiUrl}`, ok: true });
  const refusedToken = reached.some((a) => a.status === 401 && NOT_AUTHENTICATED.test(a.statusText));
  results.push(
    refusedToken
      ? {
        name: 'OpenCTI token (OPENCTI_TOKEN) accepted',
        ok: false,
        detail: 'OpenCTI answered 401 You are not authenticated',
        fix: 'set OPENCTI_TOKEN to the API token of the connector’s user (OpenCTI → profile → API access)',
      }
      : { name: 'OpenCTI token (OPENCTI_TOKEN) accepted', ok: true },
  );
  for (const [id, a] of answers) {
    const name = `live stream ${id} readable`;
    if ('error' in a) {
      results.push({ name, ok: false, detail: a.error, fix: 'check OPENCTI_URL and the network path to OpenCTI' });
    } else if (a.status === 200 && a.contentType.startsWith('text/event-stream')) {
      results.push({ name, ok: true });
    } else if (a.status === 401 && NOT_AUTHENTICATED.test(a.statusText)) {
      results.push({ name, ok: false, detail: 'not checked: the token was refused', fix: 'fix OPENCTI_TOKEN first' });
    } else if (a.status === 401 || a.status === 403) {
      results.push({
        name,
        ok: false,
        detail: `OpenCTI answered ${a.status} ${a.statusText}`.trim(),
        fix:
          `the stream does not exist or the token’s user may not read it: compare CONNECTOR_LIVE_STREAM_ID with OpenCTI → Data sharing → Live streams, and give the user the “Access data sharing” capability (and membership if the stream is restricted)`,
      });
    } else if (a.status === 410) {
      results.push({ name, ok: false, detail: 'OpenCTI answered 410: the stream is stopped', fix: 'start it in OpenCTI → Data sharing → Live streams' });
    } else if (a.status === 404) {
      results.push({ name, ok: false, detail: `no live stream endpoint at ${c.openctiUrl}/stream (404)`, fix: 'OPENCTI_URL must be the platform’s base URL, without /graphql or a path' });
    } else {
      results.push({ name, ok: false, detail: `OpenCTI answered ${a.status} ${a.statusText} (${a.contentType || 'no content type'})`, fix: 'check OPENCTI_URL points at the OpenCTI platform' });
    }
  }
  return results;
}

export async function checkOpencti(c: ListenerConfig): Promise<CheckResult[]> {
  const agent = new Agent({
    connect: { rejectUnauthorized: c.openctiSslVerify, ...(c.openctiCaFile ? { ca: readFileSync(c.openctiCaFile, 'utf8') } : {}) },
    headersTimeout: HEADERS_TIMEOUT_MS,
  });
  try {
    const answers = new Map<string, Answer>();
    for (const id of c.streamIds) answers.set(id, await probe(c, agent, id));
    return openctiFindings(c, answers);
  } finally {
    await agent.close().catch(() => undefined);
  }
}
