// The Defender for Endpoint indicator entity and its enumerations, as documented
// (Microsoft's Indicator resource type). Only the fields this writer sends or reads are typed.

import type { DefenderIndicatorType } from '@octi-defender/indicators';
import type { FailureCategory } from './errors.ts';

export { DEFENDER_INDICATOR_TYPES as INDICATOR_TYPES } from '@octi-defender/indicators';
export type IndicatorType = DefenderIndicatorType;

/** The supported actions; the deprecated Alert and AlertAndBlock are mapped before sending. */
export const ACTIONS = ['Allowed', 'Audit', 'Warn', 'Block', 'BlockAndRemediate'] as const;
export type Action = (typeof ACTIONS)[number];

export const SEVERITIES = ['Informational', 'Low', 'Medium', 'High'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const NETWORK_TYPES: ReadonlySet<IndicatorType> = new Set(['IpAddress', 'DomainName', 'Url']);

/** The body of one indicator in `POST /api/indicators/import` (field names are case-sensitive). */
export interface DefenderIndicator {
  readonly indicatorValue: string;
  readonly indicatorType: IndicatorType;
  readonly action: Action;
  readonly title: string;
  readonly description: string;
  readonly application: string;
  readonly severity: Severity;
  readonly generateAlert: boolean;
  /** ISO-8601 UTC; Defender deletes the indicator when it passes. */
  readonly expirationTime: string;
  readonly externalID?: string;
  readonly recommendedActions?: string;
  readonly rbacGroupNames?: readonly string[];
  readonly educateUrl?: string;
}

/** An indicator as `GET /api/indicators` returns it. */
export interface DefenderIndicatorRecord {
  readonly id: string;
  readonly indicatorValue: string;
  readonly indicatorType: IndicatorType;
  readonly action: string;
  readonly application?: string | null;
  readonly createdBy?: string | null;
  readonly createdBySource?: string | null;
  readonly createdByDisplayName?: string | null;
  readonly expirationTime?: string | null;
  readonly externalID?: string | null;
  /** When it was created, Defender's clock (ISO-8601, up to 7 fractional digits). */
  readonly creationTimeDateTimeUtc?: string;
  readonly rbacGroupNames?: readonly string[] | null;
  readonly [field: string]: unknown;
}

/**
 * Why an item was not imported: Defender's per-item failure (`classifyFailure`), or `foreign` when
 * Defender answered with the id of another creator's indicator (the writer never takes it as its own).
 */
export type ImportFailureCategory = FailureCategory | 'foreign';

/** The per-item outcome of an import: Defender's id, or its reason, its category and whether a retry may pass. */
export type ImportOutcome =
  | { readonly ok: true; readonly id: string }
  | { readonly ok: false; readonly reason: string; readonly permanent: boolean; readonly category: ImportFailureCategory };

/** An id Defender refused to delete on its own (a whole-call 400 on a one-id BatchDelete), with why. */
export interface BatchDeleteRejection {
  readonly id: string;
  /** `<status> <Defender code>: <Defender message>`. */
  readonly reason: string;
}

/** What `batchDelete` could not do; every other id no longer exists. Empty normally and in dry run. */
export interface BatchDeleteResult {
  readonly rejected: readonly BatchDeleteRejection[];
}

/** The id a dry run answers every import with: nothing was created. */
export const DRY_RUN_ID = 'dry-run';
