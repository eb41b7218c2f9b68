// Indicator body validation as research/defender-api.md §2–3 documents it, with the documented error codes.
import { isIPv4, isIPv6 } from 'node:net';
import { isRecord, isReservedIp } from '@octi-defender/indicators';

export const INDICATOR_TYPES = ['FileSha1', 'FileSha256', 'FileMd5', 'CertificateThumbprint', 'IpAddress', 'DomainName', 'Url'] as const;
export const ACTIONS = ['Alert', 'Warn', 'Block', 'Audit', 'BlockAndRemediate', 'AlertAndBlock', 'Allowed'] as const;
export const SEVERITIES = ['Informational', 'Low', 'Medium', 'High'] as const;
const NETWORK_TYPES = new Set(['IpAddress', 'DomainName', 'Url']);
const HASH_LENGTHS: Record<string, number[]> = { FileSha1: [40], FileSha256: [64], FileMd5: [32], CertificateThumbprint: [40, 64] };

export class ValidationError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface ValidationOptions {
  /** Research §3.1: IPv6 "written with all 8 segments"; set true to also accept `::` compression. */
  acceptCompressedIpv6?: boolean;
}

const DOMAIN = /^(?=.{1,253}$)(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))+$/i;

function validateValue(type: string, value: string, options: ValidationOptions): void {
  const lengths = HASH_LENGTHS[type];
  if (lengths) {
    if (!/^[0-9a-f]+$/i.test(value) || !lengths.includes(value.length)) throw new ValidationError('InvalidHashValue', `Invalid hash value '${value}' for indicator type ${type}.`);
    return;
  }
  if (type === 'IpAddress') {
    if (value.includes('/')) throw new ValidationError('InvalidIpAddress', `CIDR notation is not supported: '${value}'.`);
    const v4 = isIPv4(value) && /^\d{1,3}(\.\d{1,3}){3}$/.test(value);
    const v6 = isIPv6(value) && (options.acceptCompressedIpv6 === true || (!value.includes('::') && value.split(':').length === 8));
    if (!v4 && !v6) throw new ValidationError('InvalidIpAddress', `Invalid IP address '${value}'.`);
    if (isReservedIp(value)) throw new ValidationError('InvalidIpAddress', `Internal or reserved IP address '${value}' is not supported.`);
    return;
  }
  if (type === 'DomainName') {
    if (!DOMAIN.test(value)) throw new ValidationError('InvalidDomainName', `Invalid domain name '${value}'.`);
    return;
  }
  if (type === 'Url') {
    let url: URL | undefined;
    try {
      url = value.includes('\\') ? undefined : new URL(value);
    } catch {
      url = undefined;
    }
    if (!url || !['http:', 'https:'].includes(url.protocol) || url.hostname === '') {
      throw new ValidationError('InvalidUrl', `Invalid URL '${value}': a full URL with an http or https scheme is required.`);
    }
  }
}

function requireString(body: Record<string, unknown>, name: string): string {
  const value = body[name];
  if (value === undefined || value === null) throw new ValidationError('MissingRequiredParameter', `Missing required parameter '${name}'.`);
  if (typeof value !== 'string') throw new ValidationError('InvalidRequestBody', `Parameter '${name}' must be a string.`);
  return value;
}

export interface IndicatorInput {
  indicatorValue: string;
  indicatorType: string;
  action: string;
  title: string;
  description: string;
  application?: string | null;
  expirationTime?: string | null;
  severity?: string | null;
  recommendedActions?: string | null;
  rbacGroupNames?: string[];
  rbacGroupIds?: string[];
  educateUrl?: string | null;
  generateAlert?: boolean;
  externalID?: string | null;
}

/**
 * The Indicator's documented body parameters (post-ti-indicator and the Indicator resource type;
 * `rbacGroupIds` is an output that clients also send). Names are case-sensitive: a name that differs
 * from one of these only in case is refused: a required one is missing (`MissingRequiredParameter`),
 * another is `InvalidRequestBody` rather than silently ignored, the safe reading of "wrong case gives InvalidRequestBody" (the exact message is undocumented).
 */
export const DOCUMENTED_BODY_FIELDS = [
  'indicatorValue',
  'indicatorType',
  'action',
  'application',
  'title',
  'description',
  'expirationTime',
  'severity',
  'recommendedActions',
  'rbacGroupNames',
  'rbacGroupIds',
  'educateUrl',
  'generateAlert',
  'externalID',
] as const;
const DOCUMENTED_BY_LOWER = new Map<string, string>(DOCUMENTED_BODY_FIELDS.map((f) => [f.toLowerCase(), f]));

/** Validates one Indicator body (names are case-sensitive: `IndicatorValue` is just missing). */
export function validateIndicator(body: unknown, options: ValidationOptions = {}): IndicatorInput {
  if (!isRecord(body)) throw new ValidationError('InvalidRequestBody', 'The request body must be an Indicator JSON object.');
  const b = body;
  const indicatorValue = requireString(b, 'indicatorValue');
  const indicatorType = requireString(b, 'indicatorType');
  const action = requireString(b, 'action');
  const title = requireString(b, 'title');
  const description = requireString(b, 'description');
  // A required name in the wrong case is missing (above); any other one is refused.
  for (const name of Object.keys(b)) {
    const documented = DOCUMENTED_BY_LOWER.get(name.toLowerCase());
    if (documented !== undefined && documented !== name) throw new ValidationError('InvalidRequestBody', `Unknown parameter '${name}': body parameter names are case-sensitive ('${documented}').`);
  }
  if (indicatorValue.trim() === '') throw new ValidationError('InvalidInput', 'Recieved an empty indicator value.');
  if (!(INDICATOR_TYPES as readonly string[]).includes(indicatorType)) throw new ValidationError('InvalidRequestBody', `Invalid indicatorType '${indicatorType}'.`);
  if (!(ACTIONS as readonly string[]).includes(action)) throw new ValidationError('InvalidRequestBody', `Invalid action '${action}'.`);
  if (b.severity !== undefined && b.severity !== null && !(SEVERITIES as readonly unknown[]).includes(b.severity)) {
    throw new ValidationError('InvalidRequestBody', `Invalid severity ${JSON.stringify(b.severity)}.`);
  }
  let generateAlert: boolean | undefined;
  if (typeof b.generateAlert === 'boolean') generateAlert = b.generateAlert;
  else if (typeof b.generateAlert === 'string' && /^(true|false)$/i.test(b.generateAlert)) generateAlert = b.generateAlert.toLowerCase() === 'true';
  else if (b.generateAlert !== undefined && b.generateAlert !== null) throw new ValidationError('InvalidRequestBody', "Parameter 'generateAlert' must be a Boolean.");
  let expirationTime: string | null | undefined;
  if (b.expirationTime !== undefined && b.expirationTime !== null) {
    if (typeof b.expirationTime !== 'string' || Number.isNaN(Date.parse(b.expirationTime))) {
      throw new ValidationError('InvalidRequestBody', "Parameter 'expirationTime' must be an ISO 8601 DateTimeOffset.");
    }
    expirationTime = b.expirationTime;
  }
  for (const name of ['rbacGroupNames', 'rbacGroupIds']) {
    const list = b[name];
    if (list !== undefined && list !== null && (!Array.isArray(list) || list.some((v) => typeof v !== 'string'))) {
      throw new ValidationError('InvalidRequestBody', `Parameter '${name}' must be a list of strings.`);
    }
  }
  validateValue(indicatorType, indicatorValue, options);
  if (action === 'Audit' && generateAlert !== true) throw new ValidationError('InvalidRequestBody', "The 'Audit' action requires 'generateAlert' to be true.");
  if (action === 'BlockAndRemediate' && NETWORK_TYPES.has(indicatorType)) {
    throw new ValidationError('InvalidRequestBody', `Action 'BlockAndRemediate' is not supported for indicator type ${indicatorType}.`);
  }
  if (indicatorType === 'CertificateThumbprint' && !['Allowed', 'BlockAndRemediate', 'Alert', 'AlertAndBlock'].includes(action)) {
    throw new ValidationError('InvalidRequestBody', `Action '${action}' is not supported for certificate indicators (Allowed or BlockAndRemediate).`);
  }
  if (b.educateUrl !== undefined && b.educateUrl !== null && (indicatorType !== 'Url' || !['Block', 'Warn'].includes(action))) {
    throw new ValidationError('InvalidRequestBody', "'educateUrl' applies only to Url indicators with the Block or Warn action.");
  }
  const optionalString = (name: string): string | null | undefined => (typeof b[name] === 'string' ? (b[name]) : b[name] === null ? null : undefined);
  return {
    indicatorValue,
    indicatorType,
    action,
    title,
    description,
    generateAlert,
    expirationTime,
    application: optionalString('application'),
    severity: optionalString('severity'),
    recommendedActions: optionalString('recommendedActions'),
    rbacGroupNames: b.rbacGroupNames as string[] | undefined,
    rbacGroupIds: b.rbacGroupIds as string[] | undefined,
    educateUrl: optionalString('educateUrl'),
    externalID: optionalString('externalID'),
  };
}
