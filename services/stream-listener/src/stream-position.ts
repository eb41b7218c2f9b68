// OpenCTI live stream event ids are Redis stream ids `<ms>-<seq>`. Several events can share one id
// (dependencies are sent with the triggering event's id), so a position is only safe to checkpoint
// once an event with a greater id, or a heartbeat, proved that id complete.

export function compareEventIds(a: string, b: string): number {
  const [am = '0', as = '0'] = a.split('-');
  const [bm = '0', bs = '0'] = b.split('-');
  const dm = Number(am) - Number(bm);
  return dm !== 0 ? Math.sign(dm) : Math.sign(Number(as) - Number(bs));
}

export const EVENT_ID = /^\d+-\d+$/;

/**
 * The checkpoint after publishing `published` events in stream order, given the events still
 * queued behind them. The last id of the batch is complete only if something after it has a
 * greater id or the batch ended with a heartbeat; otherwise the previous distinct id is used
 * (re-publishing the tail after a restart is harmless: commands are idempotent).
 */
export function safeCheckpoint(
  published: ReadonlyArray<{ id: string; heartbeat: boolean }>,
  next: { id: string } | undefined,
  previous: string | undefined,
): string | undefined {
  const last = published.at(-1);
  if (!last) return previous;
  if (last.heartbeat || (next && compareEventIds(next.id, last.id) > 0)) return last.id;
  for (let i = published.length - 2; i >= 0; i--) {
    const e = published[i];
    if (e && compareEventIds(e.id, last.id) < 0) return e.id;
  }
  return previous;
}
