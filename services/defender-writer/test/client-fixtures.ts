// The Defender client tests' tenant, application and indicator shape (emulator over HTTP).
import type { DefenderIndicator } from '../src/defender/model.ts';

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
