// The Defender client tests' tenant, application and indicator shape (emulator over HTTP).
import { createLogger, createRegistry } from '@octi-defender/platform';
import { DefenderClient, type DefenderClientOptions } from '../src/defender/client.ts';
import { DefenderMetrics } from '../src/defender/metrics.ts';
import type { DefenderIndicator } from '../src/defender/model.ts';
import { TokenProvider, type TokenProviderOptions } from '../src/defender/token.ts';

export const TENANT = '11111111-2222-3333-4444-555555555555';
export const CLIENT_ID = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
export const SECRET = 'emulator-secret-value';
export const APP = 'OpenCTI Defender Sync';

/** Indicator i: a Block on a public address, valid for ten days, `over` applied. */
export const ind = (i: number, over: Partial<DefenderIndicator> = {}): DefenderIndicator => ({
  indicatorValue: `93.184.216.${i}`,
  indicatorType: 'IpAddress',
  action: 'Block',
  title: `t${i}`,
  description: 'd',
  application: APP,
  severity: 'High',
  generateAlert: true,
  expirationTime: new Date(Date.now() + 86_400_000 * 10).toISOString(),
  ...over,
});

/** msal's client-credentials flow against an emulator's token endpoint. */
export function emulatorTokenOptions(tokenUrl: string): TokenProviderOptions {
  return {
    tenantId: TENANT,
    clientId: CLIENT_ID,
    clientSecret: SECRET,
    loginUrl: 'https://login.microsoftonline.com',
    scope: 'https://api.securitycenter.microsoft.com/.default',
    tokenEndpoint: tokenUrl,
  };
}

/** A quiet client against the emulator, one attempt per call; `over` sets the rest (quotas, metrics, …). */
export function emulatorClient(emu: { readonly url: string; readonly tokenUrl: string }, over: Partial<DefenderClientOptions> = {}): DefenderClient {
  return new DefenderClient({
    baseUrl: emu.url,
    application: APP,
    tokens: new TokenProvider(emulatorTokenOptions(emu.tokenUrl)),
    logger: createLogger({ name: 'test', level: 'silent' }),
    metrics: new DefenderMetrics(createRegistry({ prefix: 'test' })),
    retryBaseMs: 1,
    maxRetries: 0,
    ...over,
  });
}
