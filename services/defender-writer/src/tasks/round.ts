// One round: plan, send, then commit per partition, in one local transaction. The plan (planBatch) and
// the records (prepareCommit) are pure; the Defender calls are `sendPlan`; each partition commits its
// states, dead letters and offsets through its own producer; the local store and cap take the round's
// changes only when every partition committed (postCommit), and roll back otherwise, so the local copy
// never runs ahead of the changelog and metrics count only what committed.
import type { WriterContext } from './context.ts';
import { decodeDeadLetter, type OutgoingRecord } from '@octi-defender/kafka';
import type { DecodedBatch, WriterLetter } from './decode.ts';
import { prepareCommit, type PartitionCommit } from '../core/commit-records.ts';
import { DefenderCallCancelledError, DefenderClientClosedError } from '../defender/errors.ts';
import type { ClaimCommand } from '../core/facts.ts';
import { applyOutcomes, MAX_BATCH, planBatch, type KeyState } from '../core/plan.ts';
import { LocalTransaction } from '../state/local-transaction.ts';
import { NOTHING_SENT, sendPlan, type Sent } from './send.ts';
import type { TenantView } from './tenant-view.ts';

/** Keys a plan examines besides its commands' (10 full import calls); the rest follow in later rounds. */
const MAX_PLAN_KEYS = 5000;

/** How a round ended for a partition: committed, to be retried after a pause, or abandoned (ownership lost). */
export type Applied = 'ok' | 'retry' | 'lost';

export interface RoundInput {
  readonly commands: readonly ClaimCommand[];
  readonly batches: readonly DecodedBatch[];
  /** `send`: the plan (with every pending key) goes to Defender; `fold` and `defer`: the state only. */
  readonly mode: 'send' | 'fold' | 'defer';
}

interface RoundResult {
  /** `retry` when any partition's commit failed, else `ok` (or the early `lost`/`retry` of every partition). */
  readonly outcome: Applied;
  /** Per partition committed. */
  readonly partitions: ReadonlyMap<number, Applied>;
  /** Partitions whose producer was fenced: the caller drops them. */
  readonly fenced: readonly number[];
  /** Partitions Kafka committed whose local state could not take it: the caller restores them. */
  readonly stale: readonly number[];
  /** Every partition involved committed. */
  readonly complete: boolean;
  /** The plan left keys for a later round (bounded): another round follows at once. */
  readonly more: boolean;
  /** Items failed transiently, or were left out for another creator: planned again after a pause. */
  readonly retryLater: boolean;
}

type RoundDeps = Pick<WriterContext, 'cfg' | 'store' | 'cap' | 'keys' | 'tasks' | 'lease' | 'client' | 'policy' | 'metrics' | 'logger' | 'now' | 'partitionOf'> & {
  readonly tenant: TenantView;
  readonly offsetKey: (partition: number) => string;
  readonly deadLetter: (letter: WriterLetter) => OutgoingRecord;
};

export class Round {
  readonly #d: RoundDeps;

  constructor(deps: RoundDeps) {
    this.#d = deps;
  }

  async run(input: RoundInput): Promise<RoundResult> {
    const d = this.#d;
    const defer = input.mode !== 'send';
    const call = d.lease.callOptions();
    const early = (outcome: Applied): RoundResult => ({ outcome, partitions: new Map(), fenced: [], stale: [], complete: false, more: false, retryLater: false });
    if (call.signal?.aborted) return early('lost');
    const now = d.now();
    // Nothing is sent before the tenant was listed since the assignment: other creators' keys must be known.
    if (!defer && d.tenant.stale) {
      try {
        await d.tenant.refresh(call);
      } catch (err) {
        if (err instanceof DefenderCallCancelledError) return early('lost');
        if (!(err instanceof DefenderClientClosedError)) d.logger.warn({ err }, 'listing the tenant failed; nothing sent, retrying after a pause');
        return early('retry');
      }
    }
    const lookup = (key: string): KeyState | undefined => d.store.get(key);
    const tx = LocalTransaction.begin(d.store, d.cap);
    try {
      // What a reconciliation found Defender lost is forgotten by every sending round until one commits it.
      const forced = defer ? new Set<string>() : this.#forget([...d.keys.forget].filter((k) => d.tasks.owns(d.partitionOf(k))));
      const pending = defer ? [] : [...d.keys.pending].filter((k) => d.tasks.owns(d.partitionOf(k)));
      const plan = planBatch({ commands: input.commands, lookup, policy: d.policy, cap: d.cap, now, pending, touchedOnly: defer, maxKeys: MAX_PLAN_KEYS, foreign: d.tenant.foreign });
      let sent: Sent = NOTHING_SENT;
      let leftOut = false;
      if (!defer) {
        d.tenant.noteHeld(plan);
        // More rounds follow at once: their keys fill this round's last, partial import chunk.
        const toSend = plan.remaining > 0 ? { ...plan, imports: plan.imports.filter((c) => c.length === MAX_BATCH) } : plan;
        const out = await sendPlan(
          {
            cfg: d.cfg,
            client: d.client,
            tenant: d.tenant,
            keys: d.keys,
            logger: d.logger,
            lookup,
            held: () => d.store.appliedCount(),
            capacity: () => d.cap.capacity,
            leftOut: () => (leftOut = true),
          },
          toSend,
          call,
        );
        if (out === 'lost' || out === undefined) {
          tx.rollback();
          for (const k of [...plan.keys, ...forced]) d.keys.pending.add(k);
          return early(out === 'lost' ? 'lost' : 'retry');
        }
        sent = out;
        if (d.cfg.dryRun && (plan.deletes.length > 0 || plan.imports.length > 0)) {
          d.logger.info({ dryRun: true, imports: plan.imports.flat().length, deletes: plan.deletes.flat().length, dropped: plan.dropped.length, unchanged: plan.unchanged.length }, 'dry run: plan');
        }
      }
      const result = applyOutcomes(plan, sent, lookup, d.cap);
      const at = new Date(now);
      const commits = prepareCommit({
        states: result.states,
        rejected: result.rejected,
        refusedDeletes: sent.refusedDeletes,
        batches: input.batches,
        before: lookup,
        forceWrite: forced,
        partitionOf: d.partitionOf,
        stateTopic: d.cfg.stateTopic,
        offsetKey: d.offsetKey,
        deadLetter: (letter) => d.deadLetter({ ...letter, at }),
      });
      const partitions = new Map<number, Applied>();
      const fenced: number[] = [];
      const committed: [number, PartitionCommit][] = [];
      let outcome: Applied = 'ok';
      for (const [partition, c] of [...commits].sort(([x], [y]) => x - y)) {
        const o = await d.tasks.commit(partition, c.records, c.offsets, () => call.guard?.());
        if (o === 'ok') committed.push([partition, c]);
        else if (o === 'fenced') fenced.push(partition);
        // Any partition's Kafka failure means a pause and a retry (a fenced one is dropped: `lost`).
        else if (o === 'retry') outcome = 'retry';
        partitions.set(partition, o === 'ok' ? 'ok' : o === 'retry' ? 'retry' : 'lost');
      }
      const all = committed.length === commits.size;
      try {
        if (all) {
          this.#postCommit(committed);
          tx.commit();
        } else {
          // What committed is the changelog's now; the rest of the round is undone. The committed
          // partitions' keys are planned again, which derives their cap entries from their new states.
          tx.rollback();
          d.store.transaction(() => this.#postCommit(committed));
        }
      } catch (err) {
        // The local copy could not take what Kafka committed (disk full, I/O error): those partitions
        // are restored from the changelog; nothing else of the round is kept.
        tx.rollback();
        const stale = committed.map(([p]) => p);
        d.logger.error({ err, partitions: stale }, 'the local state could not take a committed round: its partitions are restored from the changelog');
        this.#count(commits, new Set(stale));
        return { outcome: 'retry', partitions: new Map([...partitions].map(([p]) => [p, 'retry'])), fenced, stale, complete: false, more: false, retryLater: false };
      }
      const ok = new Set(committed.map(([p]) => p));
      // Only now: a batch below a partition's next offset is skipped as applied.
      for (const [partition, c] of committed) {
        const task = d.tasks.running(partition);
        for (const o of c.offsets) if (task) task.nextOffset = o.offset;
      }
      for (const k of forced) if (ok.has(d.partitionOf(k))) d.keys.forget.delete(k);
      if (!defer) {
        for (const k of plan.keys) {
          const p = d.partitionOf(k);
          if (all) d.keys.pending.delete(k);
          else if (d.tasks.owns(p)) d.keys.pending.add(k);
        }
        for (const k of result.pending) d.keys.pending.add(k);
      } else if (input.mode === 'fold' || !all) {
        // Folded: what the batch needs from Defender is sent with the other partitions' by the next
        // send. Deferred (catching up), the sync at the catch-up's end plans what Defender holds and
        // what the cap moved; only a partial commit, whose cap changes were undone, leaves keys here.
        const unsent = new Set(result.pending);
        for (const k of plan.keys) if (all ? unsent.has(k) : d.tasks.owns(d.partitionOf(k))) d.keys.pending.add(k);
      }
      // A batch whose own partition committed still pauses and replays when another one failed.
      if (outcome === 'retry') { for (const [p, o] of partitions) if (o === 'ok') partitions.set(p, 'retry'); }
      this.#count(commits, ok);
      return {
        outcome,
        partitions,
        fenced,
        stale: [],
        complete: all,
        // A partial commit rolled the cap back: the committed keys are planned again at once.
        more: !defer && (plan.remaining > 0 || !all),
        retryLater: !defer && (leftOut || [...sent.imported.values()].some((o) => !o.ok && !o.permanent)),
      };
    } catch (err) {
      tx.rollback();
      throw err;
    }
  }

  /** Forgets what Defender no longer holds for us of the keys (a reconciliation's findings), inside the round's transaction. */
  #forget(keys: readonly string[]): Set<string> {
    const d = this.#d;
    const forced = new Set<string>();
    for (const key of keys) {
      const s = d.store.get(key);
      if (!s) continue;
      const { applied: _gone, ...rest } = s;
      d.store.put(key, rest);
      d.cap.delete(key);
      d.keys.pending.add(key);
      forced.add(key);
    }
    return forced;
  }

  /** The committed partitions' states go to the local store. */
  #postCommit(committed: readonly (readonly [number, PartitionCommit])[]): void {
    const d = this.#d;
    for (const [, c] of committed) {
      for (const [key, v] of c.toStore) {
        if (v) d.store.put(key, v.state, v.value);
        else d.store.delete(key);
      }
    }
  }

  /** Dead letters are counted once their partition committed (a replayed round counts them once). */
  #count(commits: ReadonlyMap<number, PartitionCommit>, committed: ReadonlySet<number>): void {
    const d = this.#d;
    for (const [partition, c] of commits) {
      if (!committed.has(partition)) continue;
      for (const r of c.records) {
        const reason = r.headers?.reason;
        if (r.topic === d.cfg.stateTopic || reason === undefined) continue;
        d.metrics.deadLetters.inc({ reason: String(reason) });
        const letter = decodeDeadLetter(r.value, r.headers);
        const { detail, offset } = letter.ok ? letter.letter : { detail: undefined, offset: undefined };
        d.logger.warn({ reason: String(reason), detail, key: r.key, partition, offset }, 'sent to the dead-letter topic');
      }
    }
  }
}
