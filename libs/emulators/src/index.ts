export { startOpenCtiEmulator, MALFORMED_KINDS, sseEvent } from './opencti/emulator.ts';
export type { OpenCtiEmulator, OpenCtiEmulatorOptions, StreamDefinition, AppendedEvent, MalformedKind, ConnectionCut } from './opencti/emulator.ts';
export { OpenCtiGraphql, rootField, type EmulatedIdentity, type EmulatedSighting, type EntityRef } from './opencti/sightings-graphql.ts';
export type { StreamOp } from './opencti/ops.ts';
export { randomScript } from './opencti/ops.ts';
export type { FilterGroup, Filter } from './opencti/filters.ts';
export { StixGenerator, Random, TLP_MARKINGS, OCTI_EXT, SCO_EXT, INDICATOR_KINDS, OBSERVABLE_KINDS, markingDefinitions, authorIdentities, scoId, indicatorId } from './opencti/stix.ts';
export type { StixObject, IndicatorKind, ObservableKind, TlpName } from './opencti/stix.ts';
export { startDefenderEmulator, DEFAULT_RATE_LIMITS, DEFAULT_ROLES, API_ENDPOINTS } from './defender/emulator.ts';
export type { DefenderEmulator, DefenderEmulatorOptions, DefenderClient, Indicator, FaultSpec, FaultHit, RecordedRequest, EndpointStats, Endpoint, RateLimit, RaiseAlertRequest } from './defender/emulator.ts';
export { AlertStore, ALERT_FILTERS, indicatorEvidence, type DefenderAlert, type AlertEvidence, type RaiseAlertInput } from './defender/alerts.ts';
export { validateIndicator, ValidationError, INDICATOR_TYPES, ACTIONS, SEVERITIES, DOCUMENTED_BODY_FIELDS } from './defender/validation.ts';
// The reserved-address rule Defender's validation applies, shared with the services.
export { isReservedIp } from '@octi-defender/indicators';
