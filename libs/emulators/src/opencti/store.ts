// The platform's current state: every entity by standard id, and the relationships at each end.
import { octi } from './entity-fields.ts';
import type { EntityRef } from './sightings.ts';
import type { StixObject } from './stix.ts';

export class EntityStore {
  readonly #entities = new Map<string, StixObject>();
  readonly #relationsByEndpoint = new Map<string, Set<string>>();

  get size(): number {
    return this.#entities.size;
  }

  get(id: string): StixObject | undefined {
    return this.#entities.get(id);
  }

  values(): StixObject[] {
    return [...this.#entities.values()];
  }

  put(stix: StixObject): void {
    this.#entities.set(stix.id, stix);
    if (stix.type === 'relationship') {
      for (const end of [stix.source_ref, stix.target_ref]) {
        if (typeof end !== 'string') continue;
        const set = this.#relationsByEndpoint.get(end) ?? new Set<string>();
        set.add(stix.id);
        this.#relationsByEndpoint.set(end, set);
      }
    }
  }

  remove(id: string): void {
    const stix = this.#entities.get(id);
    this.#entities.delete(id);
    if (stix?.type === 'relationship') {
      for (const end of [stix.source_ref, stix.target_ref]) if (typeof end === 'string') this.#relationsByEndpoint.get(end)?.delete(id);
    }
  }

  /** Ids of the relationships with `id` at one end. */
  relationsOf(id: string): ReadonlySet<string> {
    return this.#relationsByEndpoint.get(id) ?? new Set();
  }

  /** An entity by internal id (the OpenCTI extension's id) or standard id. */
  resolve(ref: string): EntityRef | undefined {
    const found = this.#entities.get(ref) ?? [...this.#entities.values()].find((e) => octi(e).id === ref);
    if (!found) return undefined;
    const ext = octi(found);
    return { id: typeof ext.id === 'string' ? ext.id : found.id, standard_id: found.id, entity_type: typeof ext.type === 'string' ? ext.type : found.type };
  }
}
