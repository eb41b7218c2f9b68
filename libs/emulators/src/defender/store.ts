// The tenant's indicators: upsert keyed on type + value + action, the active-indicator cap, expiry.
import { ValidationError, type IndicatorInput } from './validation.ts';

export interface Indicator {
  id: string;
  indicatorValue: string;
  indicatorType: string;
  action: string;
  application: string | null;
  source: string;
  sourceType: 'AadApp' | 'User';
  title: string;
  creationTimeDateTimeUtc: string;
  createdBy: string;
  expirationTime: string | null;
  lastUpdateTime: string;
  lastUpdatedBy: string;
  severity: string | null;
  description: string;
  recommendedActions: string | null;
  rbacGroupNames: string[];
  rbacGroupIds: string[];
  generateAlert: boolean;
  educateUrl: string | null;
  externalID: string | null;
  createdBySource: string;
  createdByDisplayName: string;
}

/** Who writes an indicator: an application's client id and display name. */
export interface Creator {
  clientId: string;
  displayName?: string | undefined;
}

export interface StoreOptions {
  /** Active indicators per tenant. Default 15000. */
  cap?: number;
  /** First indicator id handed out. Default 1. */
  firstId?: number;
  /**
   * Store and echo Url values without their trailing slashes (`https://x.example/` → `https://x.example`),
   * as a Defender that normalizes values might; undocumented, so off by default (values kept as sent).
   */
  stripUrlTrailingSlash?: boolean;
}

/** Entra/MDE timestamps have 7 fractional digits. */
const dotNetTime = (ms: number): string => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$10000Z');

// Hashes and domains compare case-insensitively; a different action is a second indicator.
function indicatorKey(type: string, value: string, action: string): string {
  const normalized = type === 'Url' || type === 'IpAddress' ? value : value.toLowerCase();
  return `${type}|${normalized}|${action}`;
}

export class IndicatorStore {
  readonly #cap: number;
  readonly #strip: boolean;
  readonly #now: () => number;
  #nextId: number;
  readonly #byId = new Map<string, Indicator>();
  readonly #byKey = new Map<string, string>();

  constructor(options: StoreOptions, now: () => number) {
    this.#cap = options.cap ?? 15_000;
    this.#strip = options.stripUrlTrailingSlash === true;
    this.#nextId = options.firstId ?? 1;
    this.#now = now;
  }

  /** Forgets indicators whose expirationTime has passed (emulated clock): they disappear from every view. */
  purgeExpired(): void {
    const t = this.#now();
    for (const ind of this.#byId.values()) {
      if (ind.expirationTime !== null && Date.parse(ind.expirationTime) <= t) this.remove(ind.id);
    }
  }

  /** The active indicators, in id order of creation. */
  active(): Indicator[] {
    this.purgeExpired();
    return [...this.#byId.values()];
  }

  /** As stored, expired ones included until the next purge. */
  values(): Indicator[] {
    return [...this.#byId.values()];
  }

  get(id: string): Indicator | undefined {
    return this.#byId.get(id);
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  remove(id: string): void {
    const ind = this.#byId.get(id);
    if (!ind) return;
    this.#byId.delete(id);
    this.#byKey.delete(indicatorKey(ind.indicatorType, ind.indicatorValue, ind.action));
  }

  /** Empties the store; ids keep counting up. */
  clear(): void {
    this.#byId.clear();
    this.#byKey.clear();
  }

  /** Submit-or-update keyed on value + type + action; `application` and the creator are set only on create. */
  upsert(sent: IndicatorInput, client: Creator): Indicator {
    const indicatorValue = this.#strip && sent.indicatorType === 'Url' ? sent.indicatorValue.replace(/\/+$/, '') : sent.indicatorValue;
    const input = { ...sent, indicatorValue };
    const key = indicatorKey(input.indicatorType, input.indicatorValue, input.action);
    const existingId = this.#byKey.get(key);
    const t = dotNetTime(this.#now());
    const name = client.displayName ?? client.clientId;
    const existing = existingId === undefined ? undefined : this.#byId.get(existingId);
    if (existing) {
      const updated: Indicator = {
        ...existing,
        title: input.title,
        description: input.description,
        expirationTime: input.expirationTime === undefined ? existing.expirationTime : input.expirationTime,
        lastUpdateTime: t,
        lastUpdatedBy: name,
        severity: input.severity === undefined ? existing.severity : input.severity,
        recommendedActions: input.recommendedActions === undefined ? existing.recommendedActions : input.recommendedActions,
        rbacGroupNames: input.rbacGroupNames ?? existing.rbacGroupNames,
        rbacGroupIds: input.rbacGroupIds ?? existing.rbacGroupIds,
        generateAlert: input.generateAlert ?? existing.generateAlert,
        educateUrl: input.educateUrl === undefined ? existing.educateUrl : input.educateUrl,
        externalID: input.externalID === undefined ? existing.externalID : input.externalID,
      };
      this.#byId.set(existing.id, updated);
      return updated;
    }
    if (this.#byId.size >= this.#cap) throw new ValidationError('BadRequest', `The tenant reached its limit of ${this.#cap} active indicators.`);
    const id = String(this.#nextId++);
    const created: Indicator = {
      id,
      indicatorValue: input.indicatorValue,
      indicatorType: input.indicatorType,
      action: input.action,
      application: input.application ?? null,
      source: name,
      sourceType: 'AadApp',
      title: input.title,
      creationTimeDateTimeUtc: t,
      createdBy: client.clientId,
      expirationTime: input.expirationTime ?? null,
      lastUpdateTime: t,
      lastUpdatedBy: name,
      severity: input.severity ?? null,
      description: input.description,
      recommendedActions: input.recommendedActions ?? null,
      rbacGroupNames: input.rbacGroupNames ?? [],
      rbacGroupIds: input.rbacGroupIds ?? [],
      generateAlert: input.generateAlert ?? false,
      educateUrl: input.educateUrl ?? null,
      externalID: input.externalID ?? null,
      createdBySource: 'PublicApi',
      createdByDisplayName: name,
    };
    this.#byId.set(id, created);
    this.#byKey.set(key, id);
    return created;
  }
}
