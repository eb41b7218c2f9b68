// The demo's OpenCTI activity, posted to the OpenCTI emulator's control API: first a history whose
// current state (a few hundred indicators and observables) the listener recovers on its first start,
// then a steady trickle of the same realistic mix — creates, score and marking changes, revocations,
// shortened validity, deletes and merges — so the pipeline is seen working live.
import { randomScript, StixGenerator } from '@octi-defender/emulators';
import type { StreamOp } from '@octi-defender/emulators';

export interface FeedOptions {
  readonly openctiUrl: string;
  /** Operations of the history (about half of them leave an entity). */
  readonly historyOps: number;
  /** Operations per second afterwards. */
  readonly perSecond: number;
  readonly seed: number;
}

async function post(url: string, ops: readonly StreamOp[]): Promise<void> {
  const res = await fetch(`${url}/_emulator/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(ops) });
  if (!res.ok) throw new Error(`the OpenCTI emulator refused the demo events: ${res.status} ${await res.text()}`);
}

export class Feed {
  readonly #opts: FeedOptions;
  readonly #generator: StixGenerator;
  #script: StreamOp[] = [];
  #timer: NodeJS.Timeout | undefined;
  #sent = 0;

  constructor(opts: FeedOptions) {
    this.#opts = opts;
    this.#generator = new StixGenerator({ seed: opts.seed, epochMs: Date.now() - 86_400_000 });
  }

  get sent(): number {
    return this.#sent;
  }

  /** Posts the history (before the listener starts, so it arrives as the recovery). */
  async history(): Promise<void> {
    await this.#send(this.#opts.historyOps);
  }

  /** Starts the trickle; `onError` hears a failed post (the emulator went away). */
  trickle(onError: (err: Error) => void): void {
    this.#timer = setInterval(() => {
      this.#send(this.#opts.perSecond).catch((err: unknown) => onError(err instanceof Error ? err : new Error(String(err))));
    }, 1000);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #send(count: number): Promise<void> {
    // One long script, so its updates and deletes find the entities it created earlier.
    if (this.#script.length < count) this.#script.push(...randomScript(this.#generator, 5000));
    const ops = this.#script.splice(0, count);
    await post(this.#opts.openctiUrl, ops);
    this.#sent += ops.length;
  }
}
