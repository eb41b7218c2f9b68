// The part of a Defender for Endpoint alert (GET /api/alerts with $expand=evidence) the reporter
// reads, and its validation: an alert without an id or a usable time cannot be counted and is
// refused with the reason.

/** The alert properties documented in the Alert resource type that the reporter uses. */
export interface AlertEvidence {
  readonly entityType: string | null;
  readonly sha1: string | null;
  readonly sha256: string | null;
  readonly ipAddress: string | null;
  readonly url: string | null;
}

export interface Alert {
  readonly id: string;
  readonly detectionSource: string | null;
  readonly title: string | null;
  /** When the alert was last updated: the reporter's position moves on it. */
  readonly lastUpdateTime: string;
  /** First and last occurrence of the triggering event on the device (alertCreationTime when absent). */
  readonly firstEventTime: string;
  readonly lastEventTime: string;
  readonly machineId: string | null;
  readonly computerDnsName: string | null;
  readonly evidence: readonly AlertEvidence[];
}

type AlertParse = { readonly ok: true; readonly alert: Alert } | { readonly ok: false; readonly reason: string; readonly id?: string };

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);
const time = (v: unknown): string | null => {
  const s = str(v);
  return s !== null && !Number.isNaN(Date.parse(s)) ? new Date(Date.parse(s)).toISOString() : null;
};

/** Reads one element of the alerts list's `value` array. */
export function parseAlert(raw: unknown): AlertParse {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, reason: 'not an object' };
  const r = raw as Record<string, unknown>;
  const id = str(r.id);
  if (id === null) return { ok: false, reason: 'no id' };
  const lastUpdateTime = time(r.lastUpdateTime);
  if (lastUpdateTime === null) return { ok: false, id, reason: 'no valid lastUpdateTime' };
  const created = time(r.alertCreationTime);
  const firstEventTime = time(r.firstEventTime) ?? created;
  const lastEventTime = time(r.lastEventTime) ?? firstEventTime;
  if (firstEventTime === null || lastEventTime === null) return { ok: false, id, reason: 'no valid firstEventTime, lastEventTime or alertCreationTime' };
  if (r.evidence !== undefined && r.evidence !== null && !Array.isArray(r.evidence)) return { ok: false, id, reason: 'evidence is not an array' };
  const evidence = ((r.evidence as unknown[] | undefined) ?? [])
    .filter((e): e is Record<string, unknown> => e !== null && typeof e === 'object')
    .map((e) => ({ entityType: str(e.entityType), sha1: str(e.sha1), sha256: str(e.sha256), ipAddress: str(e.ipAddress), url: str(e.url) }));
  const [first, last] = Date.parse(firstEventTime) <= Date.parse(lastEventTime) ? [firstEventTime, lastEventTime] : [lastEventTime, firstEventTime];
  return {
    ok: true,
    alert: {
      id,
      detectionSource: str(r.detectionSource),
      title: str(r.title),
      lastUpdateTime,
      firstEventTime: first,
      lastEventTime: last,
      machineId: str(r.machineId),
      computerDnsName: str(r.computerDnsName),
      evidence,
    },
  };
}
