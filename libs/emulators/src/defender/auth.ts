// Entra's client-credentials token endpoint, the bearer tokens it issues, and the app roles the API checks.
import { randomBytes, randomUUID } from 'node:crypto';
import type { Endpoint } from './endpoints.ts';

export interface DefenderClient {
  clientId: string;
  clientSecret: string;
  /** Shown as `source`/`createdByDisplayName`/`lastUpdatedBy`. */
  displayName?: string;
  /**
   * Application permissions of WindowsDefenderATP granted to the app (admin consent): the access
   * token's `roles` claim, absent when empty, as Entra issues it. Default ['Ti.ReadWrite.All'].
   * List needs Ti.ReadWrite, Ti.ReadWrite.All or Ti.Read.All; every write needs Ti.ReadWrite.All;
   * otherwise 403 Forbidden.
   */
  roles?: readonly string[];
}

export const DEFAULT_ROLES: readonly string[] = ['Ti.ReadWrite.All'];
const READ_ROLES: readonly string[] = ['Ti.ReadWrite', 'Ti.ReadWrite.All', 'Ti.Read.All'];
const WRITE_ROLES: readonly string[] = ['Ti.ReadWrite.All'];

const RESOURCES = [
  'https://api.securitycenter.microsoft.com',
  'https://api.security.microsoft.com',
  'https://securitycenter.onmicrosoft.com/windowsatpservice',
  'https://api.securitycenter.windows.com',
  'https://api-gcc.securitycenter.microsoft.us',
  'https://api-gov.securitycenter.microsoft.us',
];

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An answer of the token endpoint: HTTP status and JSON body, and the client that asked when known. */
interface TokenAnswer {
  status: number;
  body: unknown;
  clientId?: string;
}

/** Entra's error shape, `AADSTS<code>: …` with trace and correlation ids. */
function tokenError(status: number, error: string, code: number, description: string, clientId?: string): TokenAnswer {
  const trace = randomUUID();
  const correlation = randomUUID();
  const timestamp = new Date().toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
  return {
    status,
    ...(clientId !== undefined && { clientId }),
    body: {
      error,
      error_description: `AADSTS${code}: ${description} Trace ID: ${trace} Correlation ID: ${correlation} Timestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: trace,
      correlation_id: correlation,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  };
}

export class TokenIssuer {
  readonly #tenantId: string;
  readonly #clients: ReadonlyMap<string, DefenderClient>;
  readonly #lifetimeSec: number;
  readonly #now: () => number;
  readonly #tokens = new Map<string, { clientId: string; expiresAt: number }>();

  /** `lifetimeSec`: reported `expires_in` and real validity, in emulated seconds. */
  constructor(tenantId: string, clients: readonly DefenderClient[], lifetimeSec: number, now: () => number) {
    this.#tenantId = tenantId;
    this.#clients = new Map(clients.map((c) => [c.clientId, c]));
    this.#lifetimeSec = lifetimeSec;
    this.#now = now;
  }

  client(clientId: string): DefenderClient | undefined {
    return this.#clients.get(clientId);
  }

  /** The token endpoint's answer to a client-credentials form posted for `tenant`. */
  issue(tenant: string, form: URLSearchParams): TokenAnswer {
    const clientId = form.get('client_id') ?? undefined;
    if (tenant !== this.#tenantId) {
      return tokenError(400, 'invalid_request', 90002, `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.`);
    }
    if (form.get('grant_type') !== 'client_credentials') return tokenError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.', clientId);
    const client = clientId === undefined ? undefined : this.#clients.get(clientId);
    if (!client) return tokenError(400, 'unauthorized_client', 700016, `Application with identifier '${clientId ?? ''}' was not found in the directory '${tenant}'.`, clientId);
    if (form.get('client_secret') !== client.clientSecret) {
      return tokenError(
        400,
        'invalid_client',
        7000215,
        `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${client.clientId}'.`,
        clientId,
      );
    }
    const scope = form.get('scope') ?? '';
    const resource = scope.endsWith('/.default') ? scope.slice(0, -'/.default'.length) : undefined;
    if (resource === undefined || !RESOURCES.includes(resource.replace(/\/$/, ''))) {
      return tokenError(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
        clientId,
      );
    }
    const roles = [...(client.roles ?? DEFAULT_ROLES)];
    const issued = this.#now();
    const expiresAt = issued + this.#lifetimeSec * 1000;
    for (const [token, info] of this.#tokens) if (info.expiresAt <= issued) this.#tokens.delete(token);
    const accessToken = `${b64url({ typ: 'JWT', alg: 'RS256', kid: 'emulator' })}.${
      b64url({
        aud: resource,
        iss: `https://sts.windows.net/${tenant}/`,
        iat: Math.floor(issued / 1000),
        nbf: Math.floor(issued / 1000),
        exp: Math.floor(expiresAt / 1000),
        appid: client.clientId,
        tid: tenant,
        ...(roles.length > 0 && { roles }),
      })
    }.${randomBytes(32).toString('base64url')}`;
    this.#tokens.set(accessToken, { clientId: client.clientId, expiresAt });
    return { status: 200, clientId, body: { token_type: 'Bearer', expires_in: this.#lifetimeSec, ext_expires_in: this.#lifetimeSec, access_token: accessToken } };
  }

  /** The client id of a live bearer token in an Authorization header, else undefined (a 401). */
  authenticate(authorization: string | undefined): string | undefined {
    if (!authorization?.startsWith('Bearer ')) return undefined;
    const info = this.#tokens.get(authorization.slice(7).trim());
    if (!info || info.expiresAt <= this.#now()) return undefined;
    return info.clientId;
  }

  /** Undefined when the app's roles allow the call, else the permissions it needs (a 403). */
  missingPermission(clientId: string, endpoint: Endpoint): string | undefined {
    const granted = this.#clients.get(clientId)?.roles ?? DEFAULT_ROLES;
    const read = endpoint === 'list';
    if (granted.some((r) => (read ? READ_ROLES : WRITE_ROLES).includes(r))) return undefined;
    return read ? 'Ti.ReadWrite, Ti.ReadWrite.All or Ti.Read.All' : 'Ti.ReadWrite.All';
  }

  /** Every issued token becomes invalid. */
  expireAll(): void {
    this.#tokens.clear();
  }
}

/** JSON for msal-node's `auth.authorityMetadata`, pointing its token endpoint at the emulator. */
export function authorityMetadata(serverUrl: string, tenantId: string): string {
  const base = `${serverUrl}/${tenantId}`;
  return JSON.stringify({
    token_endpoint: `${base}/oauth2/v2.0/token`,
    token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
    jwks_uri: `${serverUrl}/common/discovery/v2.0/keys`,
    response_modes_supported: ['query', 'fragment', 'form_post'],
    subject_types_supported: ['pairwise'],
    id_token_signing_alg_values_supported: ['RS256'],
    response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
    scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
    issuer: `https://login.microsoftonline.com/${tenantId}/v2.0`,
    authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
    end_session_endpoint: `${base}/oauth2/v2.0/logout`,
  });
}
