// Standalone Defender for Endpoint API + Entra token endpoint emulator for the demo and docker-compose.
// Usage: npm run emulator:defender -- [--port 4001] [--host 127.0.0.1] [--tenant ID] [--client-id ID]
//        [--client-secret S] [--time-scale 1] [--no-rate-limits] [--cap 15000] [--token-lifetime 3599]
//        [--strip-url-trailing-slash]
import { parseArgs } from 'node:util';
import { startDefenderEmulator } from '../index.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '4001' },
    host: { type: 'string', default: process.env.HOST ?? '127.0.0.1' },
    tenant: { type: 'string', default: process.env.TENANT_ID ?? '00000000-0000-0000-0000-000000000001' },
    'client-id': { type: 'string', default: process.env.CLIENT_ID ?? '00000000-0000-0000-0000-0000000000c1' },
    'client-secret': { type: 'string', default: process.env.CLIENT_SECRET ?? 'defender-emulator-secret' },
    'time-scale': { type: 'string', default: '1' },
    'no-rate-limits': { type: 'boolean', default: false },
    cap: { type: 'string', default: '15000' },
    'token-lifetime': { type: 'string', default: '3599' },
    'strip-url-trailing-slash': { type: 'boolean', default: false },
  },
});

const mde = await startDefenderEmulator({
  port: Number(values.port),
  host: values.host,
  tenantId: values.tenant,
  clients: [{ clientId: values['client-id'], clientSecret: values['client-secret'], displayName: 'octi-defender' }],
  timeScale: Number(values['time-scale']),
  rateLimits: !values['no-rate-limits'],
  cap: Number(values.cap),
  tokenLifetimeSec: Number(values['token-lifetime']),
  stripUrlTrailingSlash: values['strip-url-trailing-slash'],
});

console.log(`Defender API emulator listening on ${mde.url}`);
console.log(`  token endpoint: ${mde.tokenUrl} (client id ${values['client-id']})`);
console.log(`  indicators API: ${mde.url}/api/indicators; control: ${mde.url}/_emulator/indicators`);
console.log(`  msal authorityMetadata: ${mde.authorityMetadata()}`);

const shutdown = (): void => {
  void mde.close().then(() => process.exit(0));
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
