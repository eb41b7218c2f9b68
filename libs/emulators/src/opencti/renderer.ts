// What one connection sees of a log entry: the visibility rewrite against its stream's filters
// (leaving → delete, entering → create), inferred objects and deletes as it asked, and the missing
// dependencies sent before an event, once per connection (sseMiddleware.js).
import { displayName, entityType, octi } from './entity-fields.ts';
import type { LogEntry } from './event-log.ts';
import { matchesFilterGroup, type FilterGroup } from './filters.ts';
import { sseEvent } from './sse.ts';
import type { StixObject } from './stix.ts';
import type { EntityStore } from './store.ts';

const DEPENDENCY_CACHE_MAX = 5000;

/** One event as written: its dependencies (same id) and the event itself. */
export interface Rendered {
  deps: string;
  main: string;
}
const NOTHING: Rendered = { deps: '', main: '' };

// The JSON of an object sent as a dependency, computed once per object version.
const dependencyJson = new WeakMap<StixObject, string>();
function dependencyPayload(stix: StixObject): string {
  let json = dependencyJson.get(stix);
  if (json === undefined) {
    json = JSON.stringify({ data: stix, message: `creates a ${entityType(stix)} \`${displayName(stix)}\``, origin: { referer: 'dependencies' }, version: '4' });
    dependencyJson.set(stix, json);
  }
  return json;
}

function refsOf(stix: StixObject): string[] {
  const refs: string[] = [];
  if (typeof stix.created_by_ref === 'string') refs.push(stix.created_by_ref);
  if (Array.isArray(stix.object_marking_refs)) refs.push(...(stix.object_marking_refs as string[]));
  if (typeof stix.source_ref === 'string') refs.push(stix.source_ref);
  if (typeof stix.target_ref === 'string') refs.push(stix.target_ref);
  return refs;
}

interface RenderOptions {
  /** The stream's filters as they stand (a filter edit applies from the next event). */
  filters: () => FilterGroup | undefined;
  /** Core relationships with the dependencies (no-dependencies=false). */
  dependencies: boolean;
  /** SSE deletes (listen-delete). */
  deletes: boolean;
  /** Inferred objects (with-inferences). */
  inferences: boolean;
}

export class ConnectionRenderer {
  /** Ids this connection has been sent. */
  readonly cache = new Set<string>();
  readonly #store: EntityStore;
  readonly #options: RenderOptions;

  constructor(store: EntityStore, options: RenderOptions) {
    this.#store = store;
    this.#options = options;
  }

  remember(id: string): void {
    // A bounded cache like OpenCTI's per-connection LRU: forgetting means a dependency may be re-sent.
    this.cache.delete(id);
    this.cache.add(id);
    if (this.cache.size > DEPENDENCY_CACHE_MAX) this.cache.delete(this.cache.values().next().value!);
  }

  #refs(stix: StixObject, eventId: string): string {
    let out = '';
    for (const ref of refsOf(stix)) {
      if (this.cache.has(ref)) continue;
      const dep = this.#store.get(ref);
      if (!dep) continue;
      this.remember(ref);
      out += this.#refs(dep, eventId) + sseEvent(eventId, 'create', dependencyPayload(dep));
    }
    return out;
  }

  /** Missing refs always; core relationships only when dependencies are on (sseMiddleware.js). */
  dependenciesOf(stix: StixObject, eventId: string): string {
    let out = this.#refs(stix, eventId);
    if (!this.#options.dependencies) return out;
    for (const relId of this.#store.relationsOf(stix.id)) {
      const rel = this.#store.get(relId);
      if (!rel || this.cache.has(relId)) continue;
      out += this.#refs(rel, eventId) + sseEvent(eventId, 'create', dependencyPayload(rel));
      this.remember(relId);
    }
    return out;
  }

  visible(stix: StixObject): boolean {
    return matchesFilterGroup(stix, this.#options.filters());
  }

  #send(eventId: string, event: string, stix: StixObject, json: string, withDependencies: boolean): Rendered {
    const deps = withDependencies ? this.dependenciesOf(stix, eventId) : '';
    this.remember(stix.id);
    return { deps, main: sseEvent(eventId, event, json) };
  }

  render(entry: LogEntry): Rendered {
    if (entry.kind === 'raw') return { deps: '', main: sseEvent(entry.id, entry.rawEvent!, entry.json) };
    const stix = entry.stix!;
    if (octi(stix).is_inferred === true && !this.#options.inferences) return NOTHING;
    const now = this.visible(stix);
    const deletes = this.#options.deletes;
    if (entry.kind === 'update') {
      const before = this.visible(entry.previous!);
      // The visibility rewrite: leaving the filter is a `delete`, entering it a `create`.
      if (before && !now) return deletes ? this.#send(entry.id, 'delete', stix, entry.json, false) : NOTHING;
      if (!before && now) return this.#send(entry.id, 'create', stix, entry.json, true);
      if (now) return this.#send(entry.id, 'update', stix, entry.json, true);
      return NOTHING;
    }
    if (!now) return NOTHING;
    if (entry.kind === 'delete') return deletes ? this.#send(entry.id, 'delete', stix, entry.json, false) : NOTHING;
    return this.#send(entry.id, entry.kind, stix, entry.json, true);
  }
}
