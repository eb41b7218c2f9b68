export * from './types.ts';
export type * from './pattern/ast.ts';
export { parsePattern, PatternSyntaxError, type ParseResult } from './pattern/parser.ts';
export { extractValues, normalizeHashAlgorithm, type ExtractedValue, type Extraction, type ExtractionProblem } from './pattern/extract.ts';
export {
  canonicalizeDomain,
  canonicalizeHash,
  canonicalizeIp,
  canonicalizeUrl,
  canonicalizeValue,
  indicatorKey,
  parseIndicatorKey,
  refang,
  MAX_URL_LENGTH,
  type HashIndicatorType,
} from './canonical.ts';
export * from './command.ts';
export { isValidCommand } from './command-check.ts';
export { compareEventIds, EVENT_ID, eventTime } from './event-id.ts';
export { KNOWN_MARKINGS, MarkingRegistry, markingName, strongestTlp, TLP_ORDER, type TlpName } from './markings.ts';
export { normalizeEvent, OCTI_EXTENSION, SCO_EXTENSION, type NormalizeResult, type StreamEvent, type StreamEventName } from './normalize.ts';
export { isRecord } from './record.ts';
export { isDocumentationIp, isReservedIp, nonPublicRange } from './reserved-ip.ts';
export { uuid5 } from './uuid.ts';
export { IpRanges, ipFamily, type IpFamily } from './ip-ranges.ts';
