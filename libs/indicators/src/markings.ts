// Marking-definition ids → names. With `no-dependencies` the marking definitions are not streamed,
// so the well-known ids are built in; others are learnt from marking-definition objects.
import { isRecord } from './record.ts';

/**
 * Well-known marking ids. Sources:
 * - STIX 2.1 §7.2.1.4 TLP v1 objects (613f2e26…, 34098fce…, f88d31f6…, 5e57c739…);
 * - OASIS TLP 2.0 extension-definition examples (cti-stix-common-objects, tlp-2.0);
 * - OpenCTI's static ids in pycti `MarkingDefinition.generate_id`: TLP:CLEAR reuses the
 *   TLP:WHITE id, TLP:AMBER+STRICT is 826578e1-40ad-459f-bc73-ede076f81f37.
 * TLP v1 WHITE is named TLP:CLEAR, as OpenCTI names it and TLP 2.0 renamed it (same meaning).
 */
export const KNOWN_MARKINGS: ReadonlyMap<string, string> = new Map([
  ['marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9', 'TLP:CLEAR'],
  ['marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da', 'TLP:GREEN'],
  ['marking-definition--f88d31f6-486f-44da-b317-01333bde0b82', 'TLP:AMBER'],
  ['marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed', 'TLP:RED'],
  ['marking-definition--826578e1-40ad-459f-bc73-ede076f81f37', 'TLP:AMBER+STRICT'],
  ['marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487', 'TLP:CLEAR'],
  ['marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb', 'TLP:GREEN'],
  ['marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421', 'TLP:AMBER'],
  ['marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003', 'TLP:AMBER+STRICT'],
  ['marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1', 'TLP:RED'],
]);

/** TLP levels from least to most restrictive; `TLP:WHITE` is accepted as `TLP:CLEAR`. */
export const TLP_ORDER = ['TLP:CLEAR', 'TLP:GREEN', 'TLP:AMBER', 'TLP:AMBER+STRICT', 'TLP:RED'] as const;
export type TlpName = (typeof TLP_ORDER)[number];

const TLP_2_0_EXTENSION = 'extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d';

function tlpName(level: string): TlpName | undefined {
  const up = level.trim().toUpperCase();
  const name = up.startsWith('TLP:') ? up : `TLP:${up}`;
  if (name === 'TLP:WHITE') return 'TLP:CLEAR';
  return (TLP_ORDER as readonly string[]).includes(name) ? (name as TlpName) : undefined;
}

/** The most restrictive TLP among marking names, if any. */
export function strongestTlp(names: readonly string[]): TlpName | null {
  let best = -1;
  for (const n of names) {
    const t = tlpName(n);
    if (t !== undefined && n.toUpperCase().startsWith('TLP:')) best = Math.max(best, TLP_ORDER.indexOf(t));
  }
  return best < 0 ? null : (TLP_ORDER[best] as TlpName);
}

/** The display name of a STIX marking-definition object, as OpenCTI and the TLP 2.0 extension write it. */
export function markingName(stix: Record<string, unknown>): string | undefined {
  const ext = isRecord(stix.extensions) ? stix.extensions[TLP_2_0_EXTENSION] : undefined;
  if (isRecord(ext) && typeof ext.tlp_2_0 === 'string') return tlpName(ext.tlp_2_0) ?? `TLP:${ext.tlp_2_0.toUpperCase()}`;
  if (typeof stix.name === 'string' && stix.name.trim() !== '') return tlpName(stix.name) ?? stix.name.trim();
  const type = typeof stix.definition_type === 'string' ? stix.definition_type : undefined;
  const def = isRecord(stix.definition) && type !== undefined ? stix.definition[type.toLowerCase()] : undefined;
  if (type?.toLowerCase() === 'tlp' && typeof def === 'string') return tlpName(def) ?? `TLP:${def.toUpperCase()}`;
  if (type !== undefined && typeof def === 'string') return `${type}:${def}`;
  return undefined;
}

/**
 * Marking id → name, seeded with KNOWN_MARKINGS and extended by `learn`. Built-in ids are never
 * overridden (a stream from an old OpenCTI naming 613f2e26… "TLP:WHITE" must not change policy).
 * Bounded: past `maxLearnt` entries new ids are not learnt (they stay raw ids in commands).
 */
export class MarkingRegistry {
  private readonly learnt = new Map<string, string>();
  private readonly maxLearnt: number;

  constructor(maxLearnt = 10_000) {
    this.maxLearnt = maxLearnt;
  }

  /** Learns from a STIX marking-definition; returns true when the registry changed. */
  learn(stix: Record<string, unknown>): boolean {
    const id = stix.id;
    if (stix.type !== 'marking-definition' || typeof id !== 'string' || KNOWN_MARKINGS.has(id)) return false;
    const name = markingName(stix);
    if (name === undefined || this.learnt.get(id) === name) return false;
    if (!this.learnt.has(id) && this.learnt.size >= this.maxLearnt) return false;
    this.learnt.set(id, name);
    return true;
  }

  name(id: string): string | undefined {
    return KNOWN_MARKINGS.get(id) ?? this.learnt.get(id);
  }

  /** Names for `object_marking_refs`; unknown ids are kept as the raw id so nothing is lost. */
  names(refs: readonly string[]): string[] {
    const out: string[] = [];
    for (const r of refs) {
      const n = this.name(r) ?? r;
      if (!out.includes(n)) out.push(n);
    }
    return out;
  }

  get size(): number {
    return KNOWN_MARKINGS.size + this.learnt.size;
  }
}
