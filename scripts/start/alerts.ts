// The demo's Defender activity for `npm start -- --sightings`: every few seconds, an alert in the
// Defender emulator on one of the indicators the writer imported (the emulator's control API), as a
// device hitting it would raise; the sighting-reporter turns them into OpenCTI sightings.

/** Indicator types whose alerts carry evidence the reporter can match (file evidence has no MD5). */
const SIGHTABLE = new Set(['IpAddress', 'DomainName', 'Url', 'FileSha1', 'FileSha256']);

export class AlertFeed {
  readonly #defenderUrl: string;
  readonly #clientId: string;
  readonly #everyMs: number;
  #timer: NodeJS.Timeout | undefined;
  #raised = 0;
  #n = 0;

  constructor(opts: { defenderUrl: string; clientId: string; everyMs: number }) {
    this.#defenderUrl = opts.defenderUrl;
    this.#clientId = opts.clientId;
    this.#everyMs = opts.everyMs;
  }

  get raised(): number {
    return this.#raised;
  }

  start(onError: (err: Error) => void): void {
    this.#timer = setInterval(() => {
      this.#raise().catch((err: unknown) => onError(err instanceof Error ? err : new Error(String(err))));
    }, this.#everyMs);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #raise(): Promise<void> {
    const res = await fetch(`${this.#defenderUrl}/_emulator/indicators`, { signal: AbortSignal.timeout(2000) });
    const ours = ((await res.json()) as { id: string; createdBy: string; indicatorType: string }[]).filter((i) => i.createdBy === this.#clientId && SIGHTABLE.has(i.indicatorType));
    if (ours.length === 0) return;
    // A few indicators fire again and again (as real detections cluster), the others now and then.
    this.#n += 1;
    const pick = ours[this.#n % 3 === 0 ? this.#n % ours.length : this.#n % Math.min(5, ours.length)]!;
    const raised = await fetch(`${this.#defenderUrl}/_emulator/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ indicatorId: pick.id, computerDnsName: `workstation-${(this.#n % 4) + 1}.demo.local` }),
      signal: AbortSignal.timeout(2000),
    });
    // An indicator expired between the two calls: the next tick picks another.
    if (raised.ok) this.#raised += 1;
  }
}
