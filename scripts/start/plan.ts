// What `npm start` runs, decided from the environment (and an `.env` file, which the environment
// overrides): the emulators stand in for OpenCTI and for Defender unless the variables of the
// configuration tables name real ones. Pure: no process is started here.

/** The emulators' demo identities; the same values as docker-compose.yml's demo profile. */
export const DEMO = {
  openctiToken: 'octi-emulator-token',
  streamId: 'live-indicators',
  tenantName: 'demo',
  tenantId: 'demo.onmicrosoft.com',
  clientId: '00000000-0000-4000-8000-000000000000',
  clientSecret: 'demo-secret',
} as const;

/** Preferred ports: the emulators' compose ports and the services' defaults (a busy one is replaced). */
export const PREFERRED_PORTS = { opencti: 4000, defender: 4001 } as const;

// Setting any of these means "use my OpenCTI" / "use my Defender tenant".
const OPENCTI_VARS = ['OPENCTI_URL', 'OPENCTI_TOKEN', 'CONNECTOR_LIVE_STREAM_ID'];
const DEFENDER_VARS = ['MICROSOFT_DEFENDER_INTEL_TENANT_ID', 'MICROSOFT_DEFENDER_INTEL_CLIENT_ID', 'MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET', 'MICROSOFT_DEFENDER_INTEL_BASE_URL'];

const isSet = (env: NodeJS.ProcessEnv, name: string): boolean => (env[name]?.trim() ?? '') !== '';

export interface RunPlan {
  /** OpenCTI emulator (with the demo stream) or the configured platform. */
  readonly opencti: 'emulator' | 'configured';
  readonly defender: 'emulator' | 'configured';
}

export function planRun(env: NodeJS.ProcessEnv): RunPlan {
  return {
    opencti: OPENCTI_VARS.some((v) => isSet(env, v)) ? 'configured' : 'emulator',
    defender: DEFENDER_VARS.some((v) => isSet(env, v)) ? 'configured' : 'emulator',
  };
}

export interface Endpoints {
  readonly brokers: readonly string[];
  readonly openctiUrl?: string;
  readonly defenderUrl?: string;
  readonly listenerPort: number;
  readonly writerPort: number;
  /** With `npm start -- --sightings`. */
  readonly reporterPort?: number;
}

/** A variable set and non-empty in `env` wins over the demo value. */
function withDefaults(env: NodeJS.ProcessEnv, defaults: Record<string, string>): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env };
  for (const [k, v] of Object.entries(defaults)) if (!isSet(env, k)) out[k] = v;
  return out;
}

/** The listener's environment: the user's, completed with the emulator's values when it is used. */
export function listenerEnvironment(env: NodeJS.ProcessEnv, plan: RunPlan, at: Endpoints): NodeJS.ProcessEnv {
  return {
    ...withDefaults(env, {
      KAFKA_BROKERS: at.brokers.join(','),
      ...(plan.opencti === 'emulator' && at.openctiUrl
        ? { OPENCTI_URL: at.openctiUrl, OPENCTI_TOKEN: DEMO.openctiToken, CONNECTOR_LIVE_STREAM_ID: DEMO.streamId }
        : {}),
    }),
    HTTP_PORT: String(at.listenerPort),
  };
}

export function writerEnvironment(env: NodeJS.ProcessEnv, plan: RunPlan, at: Endpoints): NodeJS.ProcessEnv {
  return {
    ...withDefaults(env, {
      KAFKA_BROKERS: at.brokers.join(','),
      WRITER_TENANT_NAME: DEMO.tenantName,
      ...(plan.defender === 'emulator' && at.defenderUrl
        ? {
          MICROSOFT_DEFENDER_INTEL_TENANT_ID: DEMO.tenantId,
          MICROSOFT_DEFENDER_INTEL_CLIENT_ID: DEMO.clientId,
          MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: DEMO.clientSecret,
          MICROSOFT_DEFENDER_INTEL_BASE_URL: at.defenderUrl,
          MICROSOFT_DEFENDER_INTEL_TOKEN_ENDPOINT: `${at.defenderUrl}/${DEMO.tenantId}/oauth2/v2.0/token`,
        }
        : {}),
    }),
    HTTP_PORT: String(at.writerPort),
  };
}

/**
 * The sighting-reporter's environment (`npm start -- --sightings`): the writer's tenant and Entra
 * application, and the listener's OpenCTI; with the emulators, their demo values.
 */
export function reporterEnvironment(env: NodeJS.ProcessEnv, plan: RunPlan, at: Endpoints): NodeJS.ProcessEnv {
  const writer = writerEnvironment(env, plan, at);
  const listener = listenerEnvironment(env, plan, at);
  const pick = (from: NodeJS.ProcessEnv, names: readonly string[]): Record<string, string> => Object.fromEntries(names.flatMap((n) => (isSet(from, n) ? [[n, from[n] as string]] : [])));
  return {
    ...withDefaults(env, {
      ...pick(writer, [
        'KAFKA_BROKERS',
        'MICROSOFT_DEFENDER_INTEL_TENANT_ID',
        'MICROSOFT_DEFENDER_INTEL_CLIENT_ID',
        'MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET',
        'MICROSOFT_DEFENDER_INTEL_BASE_URL',
        'MICROSOFT_DEFENDER_INTEL_TOKEN_ENDPOINT',
      ]),
      ...pick(listener, ['OPENCTI_URL', 'OPENCTI_TOKEN']),
      REPORTER_TENANT_NAME: writer.WRITER_TENANT_NAME ?? DEMO.tenantName,
      // The demo raises alerts every few seconds: poll often enough to see them,
      // and list the writer's new indicators often enough to match them.
      ...(plan.defender === 'emulator' ? { REPORTER_POLL_INTERVAL_MS: '5000', REPORTER_OWNED_REFRESH_MS: '10000' } : {}),
    }),
    HTTP_PORT: String(at.reporterPort ?? 9466),
  };
}
