// Microsoft Defender for Endpoint indicators API + Entra token endpoint emulator (research/defender-api.md),
// composed of its parts: clock, store, auth, rate limits, faults, request log, routes and control.
import { HttpError, listen, sendJson } from '../http.ts';
import type { ListenOptions } from '../http.ts';
import { Random } from '../opencti/stix.ts';
import { AlertStore, type DefenderAlert } from './alerts.ts';
import { apiError } from './api-error.ts';
import { authorityMetadata, TokenIssuer, type DefenderClient } from './auth.ts';
import { EmulatedClock, type ClockOptions } from './clock.ts';
import { controlEndpoints, defenderControls, type RaiseAlertRequest } from './control.ts';
import type { Endpoint } from './endpoints.ts';
import { FaultInjector, type FaultHit, type FaultSpec } from './faults.ts';
import { RateLimiter, type RateLimitOptions } from './rate-limits.ts';
import { RequestLog, type EndpointStats, type RecordedRequest } from './requests.ts';
import { defenderRoutes } from './routes.ts';
import { IndicatorStore, type Indicator, type StoreOptions } from './store.ts';
import type { ValidationOptions } from './validation.ts';

export interface DefenderEmulatorOptions extends ListenOptions, ValidationOptions, ClockOptions, StoreOptions {
  tenantId: string;
  clients: DefenderClient[];
  /** false disables every limit (throughput benchmarks); an object overrides per endpoint. Default true. */
  rateLimits?: RateLimitOptions;
  /** Reported `expires_in` and real validity, in emulated seconds. Default 3599. */
  tokenLifetimeSec?: number;
  /** Rows per list response before `@odata.nextLink` (and the `$top` maximum). Default 10000. */
  maxPageSize?: number;
  /** Base URL written in `@odata.context`. Default https://api.security.microsoft.com. */
  apiBaseUrl?: string;
  /** Requests kept for requests(); counters in stats() are never trimmed. Default 10000. */
  maxRequestLog?: number;
  /** Seed of the fault-injection randomness. */
  seed?: number;
}

export interface DefenderEmulator {
  url: string;
  tokenUrl: string;
  tenantId: string;
  /** JSON for msal-node's `auth.authorityMetadata` pointing its token endpoint here. */
  authorityMetadata(): string;
  indicators(): Indicator[];
  /** Stores indicators as created by `clientId` (any id, e.g. another application's), without API limits. */
  seedIndicators(indicators: unknown[], createdBy?: { clientId: string; displayName?: string }): Indicator[];
  /** Deletes indicators out of band, as their creator would (a portal user, another application), without API limits. */
  removeIndicators(ids: readonly string[]): void;
  requests(endpoint?: Endpoint): RecordedRequest[];
  stats(): Record<Endpoint, EndpointStats>;
  /**
   * A custom-indicator alert as Defender raises it when an indicator matches on a device
   * (detectionSource CustomerTI, evidence of the indicator's value). Throws when no such indicator exists.
   */
  raiseAlert(request: RaiseAlertRequest): DefenderAlert;
  /** The event of an alert happened again: its lastEventTime and lastUpdateTime move. */
  repeatAlert(id: string, eventTime?: string | number): DefenderAlert;
  alerts(): DefenderAlert[];
  faults(spec: FaultSpec): string;
  clearFaults(): void;
  /** Every fault added since the last reset (cleared ones too), with how many requests it answered. */
  faultHits(): FaultHit[];
  /** API and token requests received and not answered yet (a slow or hanging one included). */
  pendingRequests(): number;
  setRateLimits(enabled: boolean): void;
  expireTokens(): void;
  /** Moves the emulated clock forward (expiry, token lifetime, rate windows). */
  advanceClock(ms: number): void;
  now(): number;
  /** Clears indicators, requests, stats, rate windows, faults and tokens. */
  reset(): void;
  close(): Promise<void>;
}

export async function startDefenderEmulator(options: DefenderEmulatorOptions): Promise<DefenderEmulator> {
  const clock = new EmulatedClock(options);
  const now = (): number => clock.now();
  const tokens = new TokenIssuer(options.tenantId, options.clients, options.tokenLifetimeSec ?? 3599, now);
  const parts = {
    clock,
    store: new IndicatorStore(options, now),
    alerts: new AlertStore(options.tenantId, now),
    tokens,
    limiter: new RateLimiter(options.rateLimits, clock.timeScale, now),
    faults: new FaultInjector(new Random(options.seed ?? 1), now),
    log: new RequestLog(options.maxRequestLog ?? 10_000, now),
    validation: options,
    maxPageSize: options.maxPageSize ?? 10_000,
    apiBaseUrl: options.apiBaseUrl ?? 'https://api.security.microsoft.com',
    authorityMetadata: () => authorityMetadata(server.url, options.tenantId),
  };
  const controls = defenderControls(parts);
  const control = controlEndpoints(parts, controls);
  const routes = defenderRoutes(parts);
  let pending = 0;

  const server = await listen(
    async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://emulator');
      if (url.pathname.startsWith('/_emulator/')) return control(req, res, url);
      pending += 1;
      res.once('close', () => {
        pending -= 1;
      });
      return routes(req, res);
    },
    options,
    (err, res) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) sendJson(res, err.status, { error: err.message });
      else apiError(res, 500, 'InternalServerError', err instanceof Error ? err.message : String(err));
    },
  );

  return {
    url: server.url,
    tokenUrl: `${server.url}/${options.tenantId}/oauth2/v2.0/token`,
    tenantId: options.tenantId,
    authorityMetadata: parts.authorityMetadata,
    indicators: () => parts.store.active(),
    seedIndicators: controls.seedIndicators,
    removeIndicators: (ids) => ids.forEach((id) => parts.store.remove(id)),
    requests: (endpoint) => parts.log.list(endpoint),
    stats: () => structuredClone(parts.log.stats()),
    raiseAlert: controls.raiseAlert,
    repeatAlert: controls.repeatAlert,
    alerts: () => structuredClone(parts.alerts.all()),
    faults: (spec) => parts.faults.add(spec),
    clearFaults: () => parts.faults.clear(),
    faultHits: () => structuredClone(parts.faults.history()),
    pendingRequests: () => pending,
    setRateLimits: (enabled) => {
      parts.limiter.enabled = enabled;
    },
    expireTokens: () => tokens.expireAll(),
    advanceClock: (ms) => clock.advance(ms),
    now,
    reset: controls.reset,
    close: () => server.close(),
  };
}
