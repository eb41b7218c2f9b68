// What the emulator reads of a STIX object as OpenCTI streams it: the OpenCTI extension, the update
// time, the entity type and the name its messages show.
import { OCTI_EXT } from './stix.ts';
import type { StixObject } from './stix.ts';

/** The OpenCTI extension's members (empty when absent). */
export function octi(stix: StixObject): Record<string, unknown> {
  return ((stix.extensions as Record<string, Record<string, unknown>> | undefined)?.[OCTI_EXT]) ?? {};
}

/** updated_at of the OpenCTI extension, else modified, else created (epoch ms; 0 when none). */
export function updatedMs(stix: StixObject): number {
  const value = octi(stix).updated_at ?? stix.modified ?? stix.created;
  return typeof value === 'string' ? Date.parse(value) : 0;
}

export function displayName(stix: StixObject): string {
  const name = stix.name ?? stix.value ?? stix.id;
  return typeof name === 'string' ? name : stix.id;
}

export function entityType(stix: StixObject): string {
  const type = octi(stix).type;
  return typeof type === 'string' ? type : stix.type;
}
