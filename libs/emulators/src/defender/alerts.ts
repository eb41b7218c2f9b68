// The alerts of the Defender for Endpoint API (GET /api/alerts) as the List alerts and Alert resource
// pages document them: the documented fields, OData $filter on the documented properties, $top (at
// most 10,000) and $skip, $expand=evidence, and alerts raised by custom indicators carrying
// detectionSource "CustomerTI" as Microsoft's samples show. Tests raise alerts with raiseAlert.
import { randomUUID } from 'node:crypto';
import { evaluate, parseFilter, type FilterSchema } from './odata.ts';

/** Filterable alert properties (List alerts API page). */
export const ALERT_FILTERS: FilterSchema = {
  entity: 'Alert',
  fields: ['alertCreationTime', 'lastUpdateTime', 'incidentId', 'investigationId', 'id', 'assignedTo', 'detectionSource', 'lastEventTime', 'status', 'severity', 'category'],
  dateFields: new Set(['alertCreationTime', 'lastUpdateTime', 'lastEventTime']),
};

export interface AlertEvidence {
  entityType: string;
  evidenceCreationTime: string;
  sha1: string | null;
  sha256: string | null;
  fileName: string | null;
  filePath: string | null;
  processId: number | null;
  processCommandLine: string | null;
  processCreationTime: string | null;
  parentProcessId: number | null;
  parentProcessCreationTime: string | null;
  parentProcessFileName: string | null;
  parentProcessFilePath: string | null;
  ipAddress: string | null;
  url: string | null;
  registryKey: string | null;
  registryHive: string | null;
  registryValueType: string | null;
  registryValue: string | null;
  accountName: string | null;
  domainName: string | null;
  userSid: string | null;
  aadUserId: string | null;
  userPrincipalName: string | null;
  detectionStatus: string | null;
}

export interface DefenderAlert {
  id: string;
  incidentId: number | null;
  investigationId: number | null;
  assignedTo: string | null;
  severity: string;
  status: string;
  classification: string | null;
  determination: string | null;
  investigationState: string;
  detectionSource: string;
  detectorId: string;
  category: string;
  threatFamilyName: string | null;
  title: string;
  description: string;
  alertCreationTime: string;
  firstEventTime: string;
  lastEventTime: string;
  lastUpdateTime: string;
  resolvedTime: string | null;
  machineId: string;
  computerDnsName: string;
  rbacGroupName: string | null;
  aadTenantId: string;
  threatName: string | null;
  mitreTechniques: string[];
  relatedUser: null;
  comments: unknown[];
  evidence: AlertEvidence[];
}

/** What a test says happened: an indicator matched on a device at `eventTime`. */
export interface RaiseAlertInput {
  /** The matching indicator (its value gives the evidence). */
  indicator: { indicatorType: string; indicatorValue: string; title: string; description: string; severity: string | null };
  machineId?: string;
  computerDnsName?: string;
  /** Emulated-clock time of the event; default now. */
  eventTime?: number;
  /** Evidence to report instead of the indicator's own value (e.g. a URL under a domain indicator). */
  evidence?: Partial<AlertEvidence>[];
}

const EMPTY_EVIDENCE: Omit<AlertEvidence, 'entityType' | 'evidenceCreationTime'> = {
  sha1: null,
  sha256: null,
  fileName: null,
  filePath: null,
  processId: null,
  processCommandLine: null,
  processCreationTime: null,
  parentProcessId: null,
  parentProcessCreationTime: null,
  parentProcessFileName: null,
  parentProcessFilePath: null,
  ipAddress: null,
  url: null,
  registryKey: null,
  registryHive: null,
  registryValueType: null,
  registryValue: null,
  accountName: null,
  domainName: null,
  userSid: null,
  aadUserId: null,
  userPrincipalName: null,
  detectionStatus: 'Detected',
};

/**
 * The evidence an indicator's match leaves: the file for a hash, the address for an IP, the URL for
 * a URL or a domain. The entity type names are those of Defender's evidence (File, Ip, Url); the
 * documented sample shows File, Process and User only, so the others are a reading of the portal.
 */
export function indicatorEvidence(type: string, value: string, at: string): AlertEvidence {
  const base = { ...EMPTY_EVIDENCE, evidenceCreationTime: at };
  switch (type) {
    case 'FileSha1':
      return { ...base, entityType: 'File', sha1: value.toLowerCase() };
    case 'FileSha256':
      return { ...base, entityType: 'File', sha256: value.toLowerCase() };
    case 'FileMd5':
      return { ...base, entityType: 'File' };
    case 'CertificateThumbprint':
      return { ...base, entityType: 'File' };
    case 'IpAddress':
      return { ...base, entityType: 'Ip', ipAddress: value };
    case 'DomainName':
      return { ...base, entityType: 'Url', url: value };
    default:
      return { ...base, entityType: 'Url', url: value };
  }
}

/** Entra/MDE timestamps have 7 fractional digits. */
const dotNetTime = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');

export class AlertStore {
  readonly #alerts = new Map<string, DefenderAlert>();
  readonly #tenantId: string;
  readonly #now: () => number;
  #incident = 1000;

  constructor(tenantId: string, now: () => number) {
    this.#tenantId = tenantId;
    this.#now = now;
  }

  all(): DefenderAlert[] {
    return [...this.#alerts.values()];
  }

  clear(): void {
    this.#alerts.clear();
  }

  raise(input: RaiseAlertInput): DefenderAlert {
    const now = this.#now();
    const event = input.eventTime ?? now;
    const created = dotNetTime(now);
    const evidence = input.evidence
      ? input.evidence.map((e) => ({ ...EMPTY_EVIDENCE, entityType: 'Url', evidenceCreationTime: created, ...e }))
      : [indicatorEvidence(input.indicator.indicatorType, input.indicator.indicatorValue, created)];
    const alert: DefenderAlert = {
      id: `da${(BigInt(now) * 10_000n + 621_355_968_000_000_000n).toString()}_${Math.floor(Math.random() * 2 ** 31)}`,
      incidentId: this.#incident++,
      investigationId: null,
      assignedTo: null,
      severity: input.indicator.severity ?? 'Informational',
      status: 'New',
      classification: null,
      determination: null,
      investigationState: 'Queued',
      detectionSource: 'CustomerTI',
      detectorId: randomUUID(),
      category: 'SuspiciousActivity',
      threatFamilyName: null,
      title: input.indicator.title,
      description: input.indicator.description,
      alertCreationTime: created,
      firstEventTime: dotNetTime(event),
      lastEventTime: dotNetTime(event),
      lastUpdateTime: created,
      resolvedTime: null,
      machineId: input.machineId ?? 'e0a1f6c3b2d4e5f60718293a4b5c6d7e8f901234',
      computerDnsName: input.computerDnsName ?? 'workstation-01.contoso.local',
      rbacGroupName: null,
      aadTenantId: this.#tenantId,
      threatName: null,
      mitreTechniques: [],
      relatedUser: null,
      comments: [],
      evidence,
    };
    this.#alerts.set(alert.id, alert);
    return alert;
  }

  /** The event happened again on the device: lastEventTime (and so lastUpdateTime) moves. */
  repeat(id: string, eventTime?: number): DefenderAlert | undefined {
    const alert = this.#alerts.get(id);
    if (!alert) return undefined;
    const now = this.#now();
    const updated = { ...alert, lastEventTime: dotNetTime(eventTime ?? now), lastUpdateTime: dotNetTime(now) };
    this.#alerts.set(id, updated);
    return updated;
  }

  /**
   * One page of GET /api/alerts: rows matching `$filter`, in creation order, `$skip` then `$top`;
   * evidence only with `$expand=evidence` (the documented examples ask for it that way).
   */
  list(query: { filter: string | null; top: number; skip: number; expandEvidence: boolean }): { rows: unknown[]; total: number } {
    let rows = this.all();
    if (query.filter !== null) {
      const tree = parseFilter(query.filter, ALERT_FILTERS);
      rows = rows.filter((r) => evaluate(tree, r as unknown as Record<string, unknown>));
    }
    const page = rows.slice(query.skip, query.skip + query.top).map((r) => {
      if (query.expandEvidence) return r;
      const { evidence: _omitted, ...rest } = r;
      return rest;
    });
    return { rows: page, total: rows.length };
  }
}
