// The window an indicator another creator adds can be imported over (the writer README, "The shared
// tenant"): for every import of ours, the time since the writer last looked at the tenant (a listing
// of what other creators added, or of the whole tenant) — measured from Defender's request log.
import type { RecordedRequest } from '@octi-defender/emulators';

export interface ForeignWindow {
  /** The longest time between an import of ours and the look before it (ms); 0 without imports. */
  readonly worstMs: number;
  readonly imports: number;
  /** Listings of what other creators added since the last look (`createdBy ne …`). */
  readonly looks: number;
  /** Listings of the whole tenant. */
  readonly listings: number;
}

const isLook = (r: RecordedRequest): boolean => new URLSearchParams(r.query ?? '').get('$filter')?.includes('createdBy ne') === true;

export function foreignWindow(requests: readonly RecordedRequest[], clientId: string): ForeignWindow {
  let last: number | undefined;
  let worstMs = 0;
  let imports = 0;
  let looks = 0;
  let listings = 0;
  for (const r of [...requests].sort((a, b) => a.seq - b.seq)) {
    if (r.clientId !== clientId || r.status !== 200) continue;
    const at = Date.parse(r.time);
    if (r.endpoint === 'list') {
      if (isLook(r)) looks++;
      // A page of a whole listing without a filter, or the self-scoped one of a BatchDelete's 404 recovery, is no look at the others.
      else if (new URLSearchParams(r.query ?? '').get('$filter') === null) listings++;
      else continue;
      last = at;
    } else if (r.endpoint === 'import') {
      imports++;
      if (last !== undefined) worstMs = Math.max(worstMs, at - last);
    }
  }
  return { worstMs, imports, looks, listings };
}
