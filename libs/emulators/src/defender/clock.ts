// Emulated time: the real clock sped up by `timeScale`, from a chosen start, moved forward by advance().

export interface ClockOptions {
  /** Emulated time runs this many times faster than real time (60: a "minute" per second). Default 1. */
  timeScale?: number;
  /** Emulated clock start (ISO or epoch ms); default now. */
  startTime?: string | number;
  /**
   * Source of real time (epoch ms), default Date.now. Tests pass a fixed one, so emulated time moves
   * only with advanceClock and nothing depends on how fast the machine runs.
   */
  clock?: () => number;
}

export class EmulatedClock {
  readonly timeScale: number;
  readonly #real: () => number;
  readonly #realStart: number;
  readonly #start: number;
  #offset = 0;

  constructor(options: ClockOptions) {
    this.timeScale = options.timeScale ?? 1;
    if (!(this.timeScale > 0)) throw new Error('timeScale must be > 0');
    this.#real = options.clock ?? Date.now;
    this.#realStart = this.#real();
    this.#start = options.startTime === undefined ? this.#realStart : typeof options.startTime === 'number' ? options.startTime : Date.parse(options.startTime);
  }

  /** Emulated epoch ms. */
  now(): number {
    return this.#start + this.#offset + (this.#real() - this.#realStart) * this.timeScale;
  }

  advance(ms: number): void {
    this.#offset += ms;
  }
}
