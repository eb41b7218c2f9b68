// OpenCTI live stream event ids are Redis stream ids `<ms>-<seq>`: two unsigned 64-bit integers in
// decimal, without leading zeros. Both services order them (the listener's checkpoints, the
// writer's claims), so there is one comparison: exact for any number of digits (no rounding through
// Number), allocation-free (called for every event).

export const EVENT_ID = /^\d+-\d+$/;
/** What Redis also takes as an id: `<ms>` alone means `<ms>-0`. */
const COMPARABLE = /^\d+(?:-\d+)?$/;

/** The last millisecond a Date can print as ISO-8601 (9999-12-31T23:59:59.999Z). */
const MAX_TIME = 253_402_300_799_999;

/** The milliseconds of an event id `<ms>-<seq>`; undefined when it is not one or not a printable date. */
export function eventTime(eventId: string): number | undefined {
  if (!EVENT_ID.test(eventId)) return undefined;
  const ms = Number(eventId.slice(0, eventId.indexOf('-')));
  return ms <= MAX_TIME ? ms : undefined;
}

/** Compares the digit runs a[as, ae) and b[bs, be): fewer digits is smaller, then character by character. */
function compareDigits(a: string, as: number, ae: number, b: string, bs: number, be: number): number {
  if (ae - as !== be - bs) return ae - as < be - bs ? -1 : 1;
  for (let i = 0; i < ae - as; i++) {
    const d = a.charCodeAt(as + i) - b.charCodeAt(bs + i);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** Orders event ids of one stream: -1, 0 or 1. `<ms>` is `<ms>-0`; anything else sorts first (equal among themselves). */
export function compareEventIds(a: string, b: string): number {
  const va = COMPARABLE.test(a);
  const vb = COMPARABLE.test(b);
  if (!va || !vb) return va ? 1 : vb ? -1 : 0;
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  const ms = compareDigits(a, 0, da < 0 ? a.length : da, b, 0, db < 0 ? b.length : db);
  if (ms !== 0 || (da < 0 && db < 0)) return ms;
  if (da < 0) return compareDigits('0', 0, 1, b, db + 1, b.length);
  if (db < 0) return compareDigits(a, da + 1, a.length, '0', 0, 1);
  return compareDigits(a, da + 1, a.length, b, db + 1, b.length);
}
