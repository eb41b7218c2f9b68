// Operations on the platform (create, update, delete, merge) as OpenCTI records them: the state is
// changed and one event is appended to the log, with the patches, changes and messages it carries.
import { HttpError } from '../http.ts';
import { displayName, entityType, octi, updatedMs } from './entity-fields.ts';
import type { EventKind, EventLog } from './event-log.ts';
import type { StreamOp } from './ops.ts';
import { changesOf, deepMerge, diff } from './patch.ts';
import { OCTI_EXT, OPENCTI_ADMIN_UUID, SCO_EXT } from './stix.ts';
import type { StixObject } from './stix.ts';
import type { EntityStore } from './store.ts';

export interface AppendedEvent {
  id: string;
  event: EventKind;
  stixId: string;
}

/** The origin of events written by the emulator's operations: the admin user, through the API. */
export const DEFAULT_ORIGIN = { socket: 'query', user_id: OPENCTI_ADMIN_UUID };

/** Top-level attributes with the OpenCTI and SCO extensions' members beside them, for `changes`. */
function attributes(stix: StixObject): Record<string, unknown> {
  const { extensions, ...top } = stix;
  const exts = (extensions ?? {}) as Record<string, Record<string, unknown>>;
  return { ...top, ...exts[SCO_EXT], ...exts[OCTI_EXT] };
}
const STAMPS: ReadonlySet<string> = new Set(['modified', 'updated_at']);

export class EventWriter {
  readonly #store: EntityStore;
  readonly #log: EventLog;
  readonly #clock: () => number;

  constructor(store: EntityStore, log: EventLog, clock: () => number) {
    this.#store = store;
    this.#log = log;
    this.#clock = clock;
  }

  /** Applies the operations in order; an update that changes nothing but its dates writes no event. */
  append(...ops: StreamOp[]): AppendedEvent[] {
    const out: AppendedEvent[] = [];
    for (const op of ops) {
      const event = this.#apply(op);
      if (event) out.push(event);
    }
    return out;
  }

  #stampUpdate(stix: StixObject): StixObject {
    const now = new Date(this.#clock()).toISOString();
    const out: StixObject = { ...stix };
    if ('modified' in stix) out.modified = now;
    const ext = octi(stix);
    if (Object.keys(ext).length > 0) out.extensions = { ...(stix.extensions as Record<string, unknown>), [OCTI_EXT]: { ...ext, updated_at: now } };
    return out;
  }

  #push(kind: EventKind, stix: StixObject, message: string, origin: Record<string, unknown> | undefined, extra: { previous?: StixObject; context?: Record<string, unknown> } = {}): AppendedEvent {
    // sseMiddleware.js sets `event_id` on every event it reads from Redis (kept when the stored
    // event has one, else derived from the object's updated_at and its index in the read batch).
    const payload: Record<string, unknown> = { version: '4', type: kind, scope: 'external', message, origin: origin ?? DEFAULT_ORIGIN, data: stix };
    if (extra.context) payload.context = extra.context;
    payload.event_id = `${updatedMs(stix)}-0`;
    const entry = this.#log.append(this.#clock(), { kind, stix, previous: extra.previous, json: JSON.stringify(payload) });
    return { id: entry.id, event: kind, stixId: stix.id };
  }

  #apply(op: StreamOp): AppendedEvent | undefined {
    const store = this.#store;
    switch (op.op) {
      case 'create': {
        if (typeof op.data?.id !== 'string' || typeof op.data.type !== 'string') throw new HttpError(400, 'create needs data with id and type');
        store.put(op.data);
        return this.#push('create', op.data, `creates a ${entityType(op.data)} \`${displayName(op.data)}\``, op.origin);
      }
      case 'update': {
        const previous = store.get(op.id);
        if (!previous) throw new HttpError(404, `no entity ${op.id}`);
        const next = this.#stampUpdate(op.data ?? (deepMerge(previous, op.changes ?? {}) as StixObject));
        const patch = diff(previous, next);
        // OpenCTI does not publish updates that only touch the modification dates.
        if (patch.every((p) => p.path === '/modified' || p.path === `/extensions/${OCTI_EXT}/updated_at`)) return undefined;
        const fields = [...new Set(patch.filter((p) => p.path !== '/modified' && !p.path.endsWith('/updated_at')).map((p) => p.path.split('/').at(-1)))];
        store.put(next);
        return this.#push('update', next, `updates \`${fields.join(', ')}\` for ${entityType(next)} \`${displayName(next)}\``, op.origin, {
          previous,
          context: { patch, reverse_patch: diff(next, previous), changes: changesOf(attributes(previous), attributes(next), STAMPS) },
        });
      }
      case 'delete': {
        const previous = store.get(op.id);
        if (!previous) throw new HttpError(404, `no entity ${op.id}`);
        store.remove(op.id);
        return this.#push('delete', previous, `deletes a ${entityType(previous)} \`${displayName(previous)}\``, op.origin);
      }
      case 'merge': {
        const target = store.get(op.targetId);
        if (!target) throw new HttpError(404, `no entity ${op.targetId}`);
        const sources = op.sourceIds.map((id) => {
          const source = store.get(id);
          if (!source) throw new HttpError(404, `no entity ${id}`);
          return source;
        });
        const merged = deepMerge(target, op.changes ?? {}) as StixObject;
        const targetExt = octi(merged);
        const stixIds = [...((targetExt.stix_ids as string[] | undefined) ?? []), ...sources.map((s) => s.id)];
        const next = this.#stampUpdate({ ...merged, extensions: { ...(merged.extensions as Record<string, unknown>), [OCTI_EXT]: { ...targetExt, stix_ids: stixIds } } });
        sources.forEach((s) => store.remove(s.id));
        store.put(next);
        return this.#push('merge', next, `merges ${entityType(next)} \`${sources.map(displayName).join(', ')}\` in \`${displayName(next)}\``, op.origin, {
          previous: target,
          context: { patch: diff(target, next), reverse_patch: diff(next, target), sources },
        });
      }
      default:
        throw new HttpError(400, `unknown op ${(op as { op?: unknown }).op as string}`);
    }
  }
}
