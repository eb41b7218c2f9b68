// The listener as an OpenCTI stream connector, pure part: the state it mirrors into OpenCTI and how
// it reads the state the platform answers. What the platform does (services/stream-listener/README.md,
// "OpenCTI connector"):
// - registerConnector keeps a known connector's stored state and returns it (null when never pinged);
// - pingConnector stores the state sent and returns it, except right after a reset from the UI
//   (resetStateConnector stores '' with a reset flag): that ping only clears the flag and answers
//   '' (the state sent is not stored); the next ping stores again.
import type { StreamPosition } from './listener.ts';

/** pycti's PingAlive period. */
export const PING_INTERVAL_MS = 40_000;

interface PyctiState {
  start_from: string;
  /** pycti's stream helper reads false (or "no") as "no recovery". */
  recover_until: string | false;
}

function stateOf(p: StreamPosition): PyctiState {
  return {
    start_from: p.checkpoint?.lastEventId ?? p.resumeFrom ?? '0-0',
    recover_until: p.checkpoint?.recoverUntil ?? p.recoverUntil ?? false,
  };
}

/**
 * The connector state: pycti's stream state `{"start_from", "recover_until"}` of the first stream
 * (a pycti stream connector follows one), and every stream's under `streams` when there are several.
 * A mirror of the checkpoints in Kafka, which stay the source of truth.
 */
export function connectorState(positions: readonly StreamPosition[]): string {
  const [first] = positions;
  const head: PyctiState = first ? stateOf(first) : { start_from: '0-0', recover_until: false };
  const streams = positions.length > 1 ? { streams: Object.fromEntries(positions.map((p) => [p.streamId, stateOf(p)])) } : {};
  return JSON.stringify({ ...head, ...streams });
}

/**
 * in-sync: the platform stored what was sent. reset: a reset from the UI (the state is ''): replay
 * from the configured start. echo: the '' of the flag-clearing ping after a reset already acted on
 * at registration (the same reset, not a new one). other: a state this replica did not send
 * (another deployment pinging with the same CONNECTOR_ID): logged, never adopted, since the Kafka
 * checkpoint is the source of truth.
 */
export type PingVerdict = 'in-sync' | 'reset' | 'echo' | 'other';

export function judgePing(sent: string, remote: unknown, resetActedAtRegistration: boolean): PingVerdict {
  if (remote === '') return resetActedAtRegistration ? 'echo' : 'reset';
  return remote === sent ? 'in-sync' : 'other';
}

/**
 * At registration: '' means the state was reset while this listener was not pinging (a connector
 * never pinged has null). The flag may still be set, so the first ping can answer '' once more: the
 * same reset (judgePing's `echo`).
 */
export function resetAtRegistration(remote: unknown): boolean {
  return remote === '';
}
