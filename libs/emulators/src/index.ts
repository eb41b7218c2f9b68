export { startOpenCtiEmulator, MALFORMED_KINDS, sseEvent } from './opencti/emulator.ts';
export type { OpenCtiEmulator, OpenCtiEmulatorOptions, StreamDefinition, AppendedEvent, MalformedKind } from './opencti/emulator.ts';
export type { StreamOp } from './opencti/ops.ts';
export { randomScript } from './opencti/ops.ts';
export type { FilterGroup, Filter } from './opencti/filters.ts';
export { StixGenerator, Random, TLP_MARKINGS, OCTI_EXT, SCO_EXT, INDICATOR_KINDS, OBSERVABLE_KINDS, markingDefinitions, authorIdentities, scoId, indicatorId } from './opencti/stix.ts';
export type { StixObject, IndicatorKind, ObservableKind, TlpName } from './opencti/stix.ts';
