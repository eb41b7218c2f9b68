// Catching up with a backlog: while any owned partition is more than WRITER_CATCH_UP_LAG commands
// behind, batches only fold into the state. Syncing each batch would admit keys that later, stronger
// ones evict (the cap spans all partitions), costing calls on both endpoints; once every partition
// caught up (or WRITER_CATCH_UP_MAX_MS later) one sync sends only the final difference.

/** How far behind one partition was, as its last batch's high watermark said, and when. */
export interface Behind {
  readonly behind: bigint;
  readonly at: number;
}

interface CatchUpInput {
  readonly now: number;
  /** When the current catch-up began; undefined when not catching up. */
  readonly since: number | undefined;
  readonly partitions: Iterable<Behind>;
  /** WRITER_CATCH_UP_LAG (0: never catch up). */
  readonly lag: number;
  /** WRITER_CATCH_UP_MAX_MS. */
  readonly maxMs: number;
}

/** `enter`: a catch-up begins now; `stay`: it goes on; `end`: it ends now; `off`: none, none begins. */
type CatchUpDecision = 'enter' | 'stay' | 'end' | 'off';

export function decideCatchUp(i: CatchUpInput): CatchUpDecision {
  let behind = 0n;
  // A measure no batch refreshed for a whole window is ignored: a partition ending in aborted records
  // never delivers the batch that would bring it down.
  for (const p of i.partitions) if (p.behind > behind && i.now - p.at < i.maxMs) behind = p.behind;
  // Entered above the bound, left within a tenth of it: the tail of a backlog is folded too, not sent
  // as it comes (its stronger keys would evict some the sync had just imported).
  const bound = i.since === undefined ? i.lag : Math.floor(i.lag / 10);
  const over = i.lag > 0 && behind > BigInt(bound);
  if (i.since === undefined) return over ? 'enter' : 'off';
  return over && i.now - i.since < i.maxMs ? 'stay' : 'end';
}
