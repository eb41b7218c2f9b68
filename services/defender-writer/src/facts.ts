// What the writer reads from an upsert command's facts and source. Structural on purpose: the command
// type from @octi-defender/indicators satisfies it, and the pure core stays testable on its own.
import type { IndicatorType } from './defender/model.ts';

export interface IndicatorFacts {
  readonly type: IndicatorType;
  readonly value: string;
  readonly name?: string | undefined;
  readonly description?: string | undefined;
  /** OpenCTI x_opencti_score, 0 to 100; missing counts as 0. */
  readonly score?: number | undefined;
  /** Marking definition names, e.g. TLP:AMBER. */
  readonly markings?: readonly string[] | undefined;
  /** ISO-8601. */
  readonly validUntil?: string | undefined;
  readonly revoked?: boolean | undefined;
  readonly detection?: boolean | undefined;
}

/** The OpenCTI entity asserting a key, and the live-stream event that said so. */
export interface ClaimSource {
  /** OpenCTI internal id: the claim's identity. */
  readonly id: string;
  readonly streamId: string;
  /** SSE event id `<ms>-<seq>`. */
  readonly eventId: string;
}

export type ClaimCommand =
  | { readonly op: 'upsert'; readonly key: string; readonly source: ClaimSource; readonly facts: IndicatorFacts }
  | { readonly op: 'retract'; readonly key: string; readonly source: ClaimSource };
