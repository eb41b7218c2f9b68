// The indicators this application created in the tenant (Defender's createdBy = our client id), as
// the index evidence is matched against: comparable key → the OpenCTI ids in their externalID. The
// writer sets externalID to the OpenCTI id of the entity whose claim the indicator carries.
import { odataEq, type DefenderClient } from '@octi-defender/defender-writer/defender/client';
import type { DefenderIndicatorRecord } from '@octi-defender/defender-writer/defender/model';
import { comparableKey } from '@octi-defender/defender-writer/defender/values';
import type { OwnedIndex } from './match.ts';

export interface OwnedSource {
  load(signal?: AbortSignal): Promise<OwnedIndex>;
}

/** The index of the given indicator records: only ours (createdBy), only those with an externalID. */
function ownedIndex(records: Iterable<DefenderIndicatorRecord>, clientId: string): Map<string, Set<string>> {
  const index = new Map<string, Set<string>>();
  for (const r of records) {
    if (typeof r.createdBy !== 'string' || r.createdBy.toLowerCase() !== clientId.toLowerCase()) continue;
    // The resource type documents externalID (the writer sends it so); how a listing spells it is not
    // documented, so the other casing is read too.
    const ext = r.externalID ?? (r as { externalId?: unknown }).externalId;
    if (typeof ext !== 'string' || ext === '') continue;
    const key = comparableKey(r.indicatorType, r.indicatorValue);
    const ids = index.get(key) ?? new Set<string>();
    ids.add(ext);
    index.set(key, ids);
  }
  return index;
}

export class DefenderOwnedSource implements OwnedSource {
  readonly #client: DefenderClient;
  readonly #clientId: string;

  constructor(client: DefenderClient, clientId: string) {
    this.#client = client;
    this.#clientId = clientId;
  }

  async load(signal?: AbortSignal): Promise<OwnedIndex> {
    const records: DefenderIndicatorRecord[] = [];
    for await (const page of this.#client.listAll({ filter: odataEq('createdBy', this.#clientId) }, { signal })) records.push(...page);
    return ownedIndex(records, this.#clientId);
  }
}
