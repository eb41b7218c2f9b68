// Scripted stream operations (the JSON a test or the demo appends) and a realistic random script.
import { OCTI_EXT, TLP_MARKINGS } from './stix.ts';
import type { IndicatorKind, ObservableKind, StixGenerator, StixObject } from './stix.ts';

export type StreamOp =
  | { op: 'create'; data: StixObject; origin?: Record<string, unknown> }
  /** `data` replaces the object; `changes` deep-merges into it (null removes a key). */
  | { op: 'update'; id: string; changes?: Record<string, unknown>; data?: StixObject; origin?: Record<string, unknown> }
  | { op: 'delete'; id: string; origin?: Record<string, unknown> }
  /** The target absorbs the sources, which disappear. */
  | { op: 'merge'; targetId: string; sourceIds: string[]; changes?: Record<string, unknown>; origin?: Record<string, unknown> };

const ext = (changes: Record<string, unknown>): Record<string, unknown> => ({ extensions: { [OCTI_EXT]: changes } });

/**
 * A plausible life of a platform: creates of Indicators (every pattern kind) and observables, some with a
 * `based-on` relationship, then score changes, revocations, detection flips, shortened validity, marking
 * changes, deletes and merges of duplicate observables.
 */
export function randomScript(generator: StixGenerator, count: number, kinds?: { indicators?: IndicatorKind[]; observables?: ObservableKind[] }): StreamOp[] {
  const r = generator.random;
  const ops: StreamOp[] = [];
  const live: StixObject[] = [];
  const observablesByType = new Map<string, StixObject[]>();
  const remove = (id: string): void => {
    const i = live.findIndex((o) => o.id === id);
    if (i >= 0) live.splice(i, 1);
    for (const list of observablesByType.values()) {
      const j = list.findIndex((o) => o.id === id);
      if (j >= 0) list.splice(j, 1);
    }
  };
  while (ops.length < count) {
    const roll = r.next();
    if (live.length < 3 || roll < 0.55) {
      if (r.chance(0.6)) {
        const indicator = generator.indicator(kinds?.indicators ? r.pick(kinds.indicators) : undefined);
        ops.push({ op: 'create', data: indicator });
        live.push(indicator);
      } else {
        const observable = generator.observable(kinds?.observables ? r.pick(kinds.observables) : undefined);
        ops.push({ op: 'create', data: observable });
        live.push(observable);
        const list = observablesByType.get(observable.type) ?? [];
        list.push(observable);
        observablesByType.set(observable.type, list);
      }
    } else if (roll < 0.85) {
      const target = r.pick(live);
      const isIndicator = target.type === 'indicator';
      const change = r.int(0, isIndicator ? 4 : 1);
      let changes: Record<string, unknown>;
      if (change === 0) {
        changes = isIndicator || target.type === 'hostname'
          ? (isIndicator ? ext({ score: r.int(0, 100) }) : { score: r.int(0, 100) })
          : { extensions: { 'extension-definition--f93e2c80-4231-4f9a-af8b-95c9bd566a82': { score: r.int(0, 100) } } };
      } else if (change === 1) changes = { object_marking_refs: [r.pick(Object.values(TLP_MARKINGS))] };
      else if (change === 2) changes = { revoked: true };
      else if (change === 3) changes = ext({ detection: false });
      else changes = { valid_until: new Date(generator.epochMs + r.int(-5, 30) * 86_400_000).toISOString() };
      ops.push({ op: 'update', id: target.id, changes });
    } else if (roll < 0.95) {
      const target = r.pick(live);
      ops.push({ op: 'delete', id: target.id });
      remove(target.id);
    } else {
      const candidates = [...observablesByType.values()].filter((l) => l.length >= 2);
      if (candidates.length === 0) continue;
      const list = r.pick(candidates);
      const [target, source] = [list[0]!, list[1]!];
      ops.push({ op: 'merge', targetId: target.id, sourceIds: [source.id] });
      remove(source.id);
    }
  }
  return ops;
}
