// A stream reader's connection, as one state with the moves it may make (drawn in the README,
// section "Roles"; a test keeps the drawing equal to this table).
import type { TransitionTable } from '@octi-defender/platform';

export type ReaderState =
  /** Created, start() not called. */
  | 'idle'
  /** A request is on its way; no response yet. */
  | 'connecting'
  /** The response streams events (its body is read while the queue has room). */
  | 'connected'
  /** Disconnected; reconnecting after a delay (0 for a reconnection on demand). */
  | 'backoff'
  /** OpenCTI refused the stream for a configuration reason (401/403/404/410); slow retry. */
  | 'config-error'
  | 'closed';

export const READER_STATES: TransitionTable<ReaderState> = {
  idle: ['connecting', 'closed'],
  connecting: ['connected', 'backoff', 'config-error', 'closed'],
  connected: ['backoff', 'closed'],
  // A reconnection on demand (resync) may cut a wait short: backoff again, with no delay.
  backoff: ['connecting', 'backoff', 'closed'],
  'config-error': ['connecting', 'backoff', 'closed'],
  closed: [],
};

/**
 * Why a reader reconnects: the connection failed (`network`), OpenCTI refused it (`config`), the
 * stream was silent too long (`watchdog`), or the listener asked for a resync replay (`resync`).
 */
export type ReconnectCause = 'network' | 'config' | 'watchdog' | 'resync';
