export type Result<T, E> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: E };

export const DEFENDER_INDICATOR_TYPES = [
  'FileSha1',
  'FileSha256',
  'FileMd5',
  'CertificateThumbprint',
  'IpAddress',
  'DomainName',
  'Url',
] as const;
export type DefenderIndicatorType = (typeof DEFENDER_INDICATOR_TYPES)[number];

/**
 * Why something produced no command. A small fixed set so callers can count and route by code;
 * the human `detail` says exactly what was wrong.
 */
export const REJECT_REASONS = [
  'malformed_event', // payload is not a v4 OpenCTI event with a STIX object we can read
  'invalid_pattern', // STIX pattern syntax error
  'unsupported_pattern', // valid pattern that Defender cannot represent (operator, qualifier, AND across objects, pattern_type)
  'unsupported_type', // observable/object type or hash algorithm with no Defender indicator type
  'invalid_value', // value is not a valid IP / hostname / URL / hash (after refanging)
  'private_ip', // not a public unicast address (private, loopback, link-local, reserved, documentation, CGNAT, multicast…)
  'cidr', // an address range; Defender takes single addresses only
  'public_suffix', // a bare public suffix (com, co.uk, github.io): blocking it would block everything under it
  'observable_values_mismatch', // observable_values holds a value the pattern does not: not published, reported
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface Reject {
  readonly reason: RejectReason;
  readonly detail: string;
  /** The offending value, when there is one. */
  readonly value?: string;
  /** STIX id of the entity concerned, when known. */
  readonly stixId?: string;
}

export interface ValueReject {
  readonly reason: 'invalid_value' | 'private_ip' | 'cidr' | 'public_suffix' | 'unsupported_type';
  readonly detail: string;
}

/** A canonical Defender indicator identity. */
export interface IndicatorKey {
  readonly type: DefenderIndicatorType;
  readonly value: string;
  /** `<type>:<value>`, the Kafka key and the writer's state key. */
  readonly key: string;
}
