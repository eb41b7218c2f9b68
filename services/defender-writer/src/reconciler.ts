// Drift between Defender and the state of this writer's partitions. Only indicators this writer's
// application created (application AND createdBy = our client id) and whose key belongs to one of
// its partitions are ever considered; anything else in the tenant is invisible here.
import { partitionForKey } from '@octi-defender/kafka';
import type { Logger } from '@octi-defender/platform';
import { DRY_RUN_ID, odataEq, type CallOptions, type DefenderClient } from './defender/client.ts';
import type { DefenderIndicatorRecord } from './defender/model.ts';
import type { KeyState } from './plan.ts';

export interface OwnedView {
  readonly partitionCount: number;
  ownedPartitions(): ReadonlySet<number>;
  states(): Iterable<readonly [string, KeyState]>;
}

export interface Drift {
  /** Keys whose state says Defender holds `applied.id`, which Defender does not list. */
  readonly missing: readonly string[];
  /** Our indicators on our partitions that no state claims. */
  readonly orphaned: readonly { readonly id: string; readonly key: string }[];
  readonly listed: number;
  /** Listed with our application name but created by someone else: never touched. */
  readonly foreign: number;
}

export function keyOfRecord(r: DefenderIndicatorRecord): string {
  return `${r.indicatorType}:${r.indicatorValue}`;
}

export function isOurs(r: DefenderIndicatorRecord, application: string, clientId: string): boolean {
  return r.application === application && typeof r.createdBy === 'string' && r.createdBy.toLowerCase() === clientId.toLowerCase();
}

/** `call`: the caller's cancellation (the writer's lease). */
export async function findDrift(client: DefenderClient, who: { application: string; clientId: string }, view: OwnedView, now: number, call: CallOptions = {}): Promise<Drift> {
  const owned = view.ownedPartitions();
  const listedIds = new Set<string>();
  const ours: DefenderIndicatorRecord[] = [];
  let listed = 0;
  let foreign = 0;
  for await (const page of client.listAll({ filter: odataEq('application', who.application) }, call)) {
    for (const r of page) {
      listed++;
      if (!isOurs(r, who.application, who.clientId)) {
        foreign++;
        continue;
      }
      listedIds.add(String(r.id));
      ours.push(r);
    }
  }
  const known = new Set<string>();
  const missing: string[] = [];
  for (const [key, s] of view.states()) {
    if (s.applied) known.add(s.applied.id);
    for (const id of s.staleIds ?? []) known.add(id);
    const a = s.applied;
    if (a && a.id !== DRY_RUN_ID && a.expiresAt > now && !listedIds.has(a.id)) missing.push(key);
  }
  const orphaned: { id: string; key: string }[] = [];
  for (const r of ours) {
    const key = keyOfRecord(r);
    if (!owned.has(partitionForKey(key, view.partitionCount))) continue;
    if (!known.has(String(r.id))) orphaned.push({ id: String(r.id), key });
  }
  return { missing, orphaned, listed, foreign };
}

/** Runs `run` every `intervalMs` (0: never) and on demand; runs never overlap. */
export class ReconcileSchedule {
  readonly #run: () => Promise<Drift | undefined>;
  readonly #intervalMs: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #current: Promise<Drift | undefined> | undefined;

  constructor(run: () => Promise<Drift | undefined>, intervalMs: number, logger: Logger) {
    this.#run = run;
    this.#intervalMs = intervalMs;
    this.#log = logger;
  }

  start(): void {
    if (this.#intervalMs <= 0 || this.#timer) return;
    this.#timer = setInterval(() => {
      this.runNow().catch((err: unknown) => this.#log.warn({ err }, 'scheduled reconciliation failed; next one at the next interval'));
    }, this.#intervalMs);
    this.#timer.unref();
  }

  runNow(): Promise<Drift | undefined> {
    this.#current ??= this.#run().finally(() => {
      this.#current = undefined;
    });
    return this.#current;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#current?.catch(() => undefined);
  }
}
