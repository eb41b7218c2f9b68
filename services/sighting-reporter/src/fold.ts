// One poll's alerts folded into the sighting records: pure, so that what a restart replays can be
// checked to change nothing.
import type { Alert } from './alert.ts';
import { foldAlert, keyOf, type SightingRecord } from './aggregate.ts';
import { matchAlert, type OwnedIndex } from './match.ts';

export interface FoldResult {
  /** Records created or changed by these alerts, by record key (the input records are not modified). */
  readonly changed: ReadonlyMap<string, SightingRecord>;
  /** Alerts whose evidence matched at least one of our indicators. */
  readonly matched: number;
  /** Alerts whose evidence matched none of our indicators (skipped). */
  readonly unmatched: readonly Alert[];
  /** (alert, indicator) pairs already counted: a replay or an overlapping window. */
  readonly alreadyCounted: number;
  /** (alert, indicator) pairs left out because the record holds MAX_ALERTS_PER_RECORD alerts. */
  readonly overCap: number;
}

export function foldAlerts(records: (key: string) => SightingRecord | undefined, alerts: readonly Alert[], owned: OwnedIndex, whereId: string): FoldResult {
  const changed = new Map<string, SightingRecord>();
  const unmatched: Alert[] = [];
  let matched = 0;
  let alreadyCounted = 0;
  let overCap = 0;
  for (const alert of alerts) {
    const ids = matchAlert(alert, owned);
    if (ids.length === 0) {
      unmatched.push(alert);
      continue;
    }
    matched += 1;
    for (const indicatorId of ids) {
      // The record's day comes from the alert, so the key is known before folding.
      const probe = foldAlert(undefined, alert, indicatorId, whereId).record;
      const key = keyOf(probe);
      const before = changed.get(key) ?? records(key);
      const { record, outcome } = foldAlert(before, alert, indicatorId, whereId);
      if (outcome === 'unchanged') alreadyCounted += 1;
      else if (outcome === 'over_cap') overCap += 1;
      else changed.set(key, record);
    }
  }
  return { changed, matched, unmatched, alreadyCounted, overCap };
}
