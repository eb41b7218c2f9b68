// Flow control: whether the writer consumes. One mode, fed by the rounds' outcomes and the Defender
// client's circuit breaker; pausing and resuming the consumer follow from the mode.
//
//   running      consuming; rounds call Defender
//   backoff      a round failed transiently: every partition paused until the backoff delay (at least
//                a running Retry-After) has passed
//   breaker-open the breaker opened: paused until it half-opens
//   probing      the breaker half-opened: consuming, the next call is its trial
//   closed       the writer closed (final)

import { StateMachine, type TransitionTable } from '@octi-defender/platform';

export type FlowMode = 'running' | 'backoff' | 'breaker-open' | 'probing' | 'closed';

export const FLOW_TRANSITIONS: TransitionTable<FlowMode> = {
  running: ['backoff', 'breaker-open', 'closed'],
  backoff: ['running', 'probing', 'breaker-open', 'closed'],
  'breaker-open': ['probing', 'running', 'closed'],
  probing: ['running', 'backoff', 'breaker-open', 'closed'],
  closed: [],
};

export interface FlowPorts {
  /** Pauses or resumes every assigned partition of the consumer. */
  pauseAll(): void;
  resumeAll(): void;
  /** The breaker's state and a Retry-After still running. */
  breakerOpen(): boolean;
  throttledForMs(): number;
  /** The delay of the n-th consecutive failure's backoff (n ≥ 1). */
  backoffMs(failures: number): number;
  /** Called when consumption resumes: pending keys and cap moves are planned again. */
  resumed(why: string): void;
  /** Called on every change of mode (metrics, logs). */
  changed(from: FlowMode, to: FlowMode, detail: { delayMs?: number }): void;
}

export class FlowControl {
  readonly #ports: FlowPorts;
  readonly #mode = new StateMachine<FlowMode>({ name: 'flow control', transitions: FLOW_TRANSITIONS, initial: 'running' });
  #failures = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(ports: FlowPorts) {
    this.#ports = ports;
  }

  get mode(): FlowMode {
    return this.#mode.state;
  }

  /** Rounds failed since the last success. */
  get failures(): number {
    return this.#failures;
  }

  /** Batches are applied only while consuming; others come back after resume. */
  get consuming(): boolean {
    return this.mode === 'running' || this.mode === 'probing';
  }

  /** A round committed. */
  succeeded(): void {
    this.#failures = 0;
    if (this.mode === 'probing') this.#to('running');
  }

  /** A round failed transiently: pause, then resume after a backoff, or when the breaker half-opens. */
  failed(): void {
    if (this.mode === 'closed') return;
    this.#failures++;
    clearTimeout(this.#timer);
    this.#ports.pauseAll();
    if (this.#ports.breakerOpen()) {
      if (this.mode !== 'breaker-open') this.#to('breaker-open');
      return;
    }
    // A Retry-After is honoured in full: no call before it has passed.
    const delayMs = Math.max(this.#ports.throttledForMs(), this.#ports.backoffMs(this.#failures));
    if (this.mode !== 'backoff') this.#to('backoff', { delayMs });
    this.#timer = setTimeout(() => this.#resume('running', 'backoff'), delayMs);
    this.#timer.unref();
  }

  breakerOpened(): void {
    if (this.mode === 'closed' || this.mode === 'breaker-open') return;
    clearTimeout(this.#timer);
    this.#ports.pauseAll();
    this.#to('breaker-open');
  }

  breakerHalfOpen(): void {
    this.#resume('probing', 'breaker');
  }

  breakerClosed(): void {
    // Probing already consumes: the breaker closing only ends the probe.
    if (this.mode === 'probing') this.#to('running');
    else this.#resume('running', 'breaker');
  }

  close(): void {
    clearTimeout(this.#timer);
    if (this.mode !== 'closed') this.#to('closed');
  }

  #resume(to: 'running' | 'probing', why: string): void {
    if (this.mode === 'closed' || this.consuming) return;
    clearTimeout(this.#timer);
    this.#to(to);
    this.#ports.resumeAll();
    this.#ports.resumed(why);
  }

  #to(next: FlowMode, detail: { delayMs?: number } = {}): void {
    const from = this.mode;
    this.#mode.to(next);
    this.#ports.changed(from, next, detail);
  }
}
