// When an operator request on the control topic is finished, from the answers read so far (pure).
// A listener request (resync, replay) is answered by the one active listener following the stream;
// a reconciliation by every writer of the tenant(s), each for its own partitions, so it is done when
// every writer that accepted has finished and, per tenant, their partitions cover the commands topic.
import type { ControlReply } from '@octi-defender/kafka';

export const EXIT = { ok: 0, attention: 1, usage: 2, unreachable: 3 } as const;

export interface Verdict {
  readonly finished: boolean;
  /** With finished: the exit code, and a last line when there is something to sum up. */
  readonly exit?: number;
  readonly summary?: string;
}

const TERMINAL: ReadonlySet<ControlReply['status']> = new Set(['done', 'refused', 'failed']);

/** resync, replay: the first final answer of a listener decides. */
export function listenerVerdict(replies: readonly ControlReply[]): Verdict {
  const last = replies.find((r) => r.service === 'stream-listener' && TERMINAL.has(r.status));
  if (!last) return { finished: false };
  return { finished: true, exit: last.status === 'done' ? EXIT.ok : EXIT.attention };
}

/**
 * reconcile: finished once some writer answered, every writer that accepted gave its final answer,
 * and `settleMs` passed since the first answer (writers of a tenant read the request together; a
 * late one still joins). Exit 0 only when every writer is done and each tenant's done partitions
 * cover 0 … partitionCount-1.
 */
export function reconcileVerdict(replies: readonly ControlReply[], opts: { partitionCount: number; now: number; settleMs: number }): Verdict {
  const writers = replies.filter((r) => r.service === 'defender-writer');
  if (writers.length === 0) return { finished: false };
  const firstAt = Math.min(...writers.map((r) => Date.parse(r.at)));
  const byInstance = new Map<string, ControlReply>();
  for (const r of writers) {
    const seen = byInstance.get(r.instance);
    if (!seen || !TERMINAL.has(seen.status)) byInstance.set(r.instance, r);
  }
  const final = [...byInstance.values()];
  if (final.some((r) => !TERMINAL.has(r.status)) || opts.now - firstAt < opts.settleMs) return { finished: false };
  const tenants = new Map<string, Set<number>>();
  for (const r of final) {
    const covered = tenants.get(r.tenant ?? '?') ?? new Set<number>();
    const parts = r.data?.partitions;
    if (r.status === 'done' && Array.isArray(parts)) { for (const p of parts) if (typeof p === 'number') covered.add(p); }
    tenants.set(r.tenant ?? '?', covered);
  }
  const gaps: string[] = [];
  for (const [tenant, covered] of tenants) {
    const missing = Array.from({ length: opts.partitionCount }, (_, p) => p).filter((p) => !covered.has(p));
    if (missing.length > 0) gaps.push(`tenant ${tenant}: partitions ${missing.join(',')} not reconciled (no running writer reported them)`);
  }
  const failed = final.filter((r) => r.status !== 'done').map((r) => `${r.tenant ?? '?'} ${r.instance} ${r.status}`);
  const names = [...tenants.keys()].sort().join(', ');
  if (gaps.length === 0 && failed.length === 0) return { finished: true, exit: EXIT.ok, summary: `reconciled: tenant(s) ${names}, every partition` };
  return { finished: true, exit: EXIT.attention, summary: [...failed, ...gaps].join('; ') };
}
