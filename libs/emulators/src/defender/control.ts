// The test-control side of the emulator: seeding indicators, raising alerts, faults, clock, reset,
// and the /_emulator endpoints that expose them over HTTP (libs/emulators/README.md).
import { isRecord } from '@octi-defender/indicators';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, readJson, sendJson } from '../http.ts';
import type { AlertStore, DefenderAlert, RaiseAlertInput } from './alerts.ts';
import type { TokenIssuer } from './auth.ts';
import type { EmulatedClock } from './clock.ts';
import type { FaultInjector, FaultSpec } from './faults.ts';
import type { RateLimiter } from './rate-limits.ts';
import type { RequestLog } from './requests.ts';
import type { Creator, Indicator, IndicatorStore } from './store.ts';
import { validateIndicator, ValidationError, type ValidationOptions } from './validation.ts';

/** How a test names the indicator an alert fires on, and where and when. */
export interface RaiseAlertRequest {
  /** The Defender id of the indicator, or its type and value. */
  indicatorId?: string;
  indicatorType?: string;
  indicatorValue?: string;
  machineId?: string;
  computerDnsName?: string;
  /** ISO time (or epoch ms) of the event; default the emulated now. */
  eventTime?: string | number;
  evidence?: RaiseAlertInput['evidence'];
}

export interface ControlParts {
  clock: EmulatedClock;
  store: IndicatorStore;
  alerts: AlertStore;
  tokens: TokenIssuer;
  limiter: RateLimiter;
  faults: FaultInjector;
  log: RequestLog;
  validation: ValidationOptions;
}

interface Controls {
  seedIndicators: (items: unknown[], createdBy?: Creator) => Indicator[];
  raiseAlert: (request: RaiseAlertRequest) => DefenderAlert;
  repeatAlert: (id: string, eventTime?: string | number) => DefenderAlert;
  reset: () => void;
}

function eventTime(t: string | number | undefined): number | undefined {
  if (t === undefined) return undefined;
  const ms = typeof t === 'number' ? t : Date.parse(t);
  if (Number.isNaN(ms)) throw new HttpError(400, `eventTime is not a time: ${String(t)}`);
  return ms;
}

export function defenderControls(parts: ControlParts): Controls {
  const { store, alerts } = parts;
  return {
    // Seeded indicators come from another application unless a creator is named.
    seedIndicators: (items, createdBy = { clientId: randomUUID(), displayName: 'Other application' }) => items.map((item) => store.upsert(validateIndicator(item, parts.validation), createdBy)),
    raiseAlert: (r) => {
      store.purgeExpired();
      const indicator = r.indicatorId !== undefined
        ? store.get(r.indicatorId)
        : store.values().find((i) => i.indicatorType === r.indicatorType && i.indicatorValue.toLowerCase() === (r.indicatorValue ?? '').toLowerCase());
      if (!indicator) throw new HttpError(400, `no active indicator ${r.indicatorId ?? `${r.indicatorType ?? '?'} ${r.indicatorValue ?? '?'}`} to raise an alert on`);
      return alerts.raise({
        indicator,
        ...(r.machineId !== undefined && { machineId: r.machineId }),
        ...(r.computerDnsName !== undefined && { computerDnsName: r.computerDnsName }),
        ...(r.eventTime !== undefined && { eventTime: eventTime(r.eventTime) }),
        ...(r.evidence !== undefined && { evidence: r.evidence }),
      });
    },
    repeatAlert: (id, t) => {
      const alert = alerts.repeat(id, eventTime(t));
      if (!alert) throw new HttpError(404, `no alert ${id}`);
      return alert;
    },
    reset: () => {
      alerts.clear();
      store.clear();
      parts.tokens.expireAll();
      parts.limiter.clear();
      parts.faults.reset();
      parts.log.clear();
    },
  };
}

/** The /_emulator endpoints. */
export function controlEndpoints(parts: ControlParts, controls: Controls): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void> {
  const { store, alerts, faults, log } = parts;
  return async (req, res, url) => {
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const body = method === 'GET' ? undefined : await readJson(req);
    const fields = isRecord(body) ? body : {};
    if (method === 'GET' && path === '/_emulator/indicators') return sendJson(res, 200, store.active());
    if (method === 'POST' && path === '/_emulator/indicators') {
      const items = Array.isArray(fields.indicators) ? fields.indicators : [];
      const createdBy = typeof fields.clientId === 'string' ? { clientId: fields.clientId, displayName: typeof fields.displayName === 'string' ? fields.displayName : undefined } : undefined;
      try {
        return sendJson(res, 200, controls.seedIndicators(items, createdBy));
      } catch (err) {
        if (err instanceof ValidationError) throw new HttpError(400, `${err.code}: ${err.message}`);
        throw err;
      }
    }
    if (method === 'GET' && path === '/_emulator/requests') return sendJson(res, 200, log.list(url.searchParams.get('endpoint')));
    if (method === 'GET' && path === '/_emulator/stats') return sendJson(res, 200, log.stats());
    if (method === 'GET' && path === '/_emulator/alerts') return sendJson(res, 200, alerts.all());
    if (method === 'POST' && path === '/_emulator/alerts') return sendJson(res, 200, controls.raiseAlert(fields));
    if (method === 'POST' && path === '/_emulator/alerts/repeat') {
      if (typeof fields.id !== 'string') throw new HttpError(400, 'id (string) is required');
      return sendJson(res, 200, controls.repeatAlert(fields.id, fields.eventTime as string | number | undefined));
    }
    if (method === 'POST' && path === '/_emulator/faults') return sendJson(res, 200, { id: faults.add(fields as unknown as FaultSpec) });
    if (method === 'GET' && path === '/_emulator/faults') return sendJson(res, 200, faults.history());
    if (method === 'DELETE' && path === '/_emulator/faults') {
      faults.clear();
      return sendJson(res, 200, {});
    }
    if (method === 'POST' && path === '/_emulator/reset') {
      controls.reset();
      return sendJson(res, 200, {});
    }
    if (method === 'POST' && path === '/_emulator/tokens/expire') {
      parts.tokens.expireAll();
      return sendJson(res, 200, {});
    }
    if (method === 'POST' && path === '/_emulator/clock') {
      if (typeof fields.advanceMs !== 'number') throw new HttpError(400, 'advanceMs (number) is required');
      parts.clock.advance(fields.advanceMs);
      return sendJson(res, 200, { now: new Date(parts.clock.now()).toISOString() });
    }
    if (method === 'PUT' && path === '/_emulator/rate-limits') {
      if (typeof fields.enabled !== 'boolean') throw new HttpError(400, 'enabled (boolean) is required');
      parts.limiter.enabled = fields.enabled;
      return sendJson(res, 200, { enabled: parts.limiter.enabled });
    }
    throw new HttpError(404, `no control endpoint ${method} ${path}`);
  };
}
