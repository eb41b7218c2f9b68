// Entra client-credentials tokens through one msal-node ConfidentialClientApplication (its cache is
// per instance), with single-flight acquisition (msal does not de-duplicate parallel cold calls)
// and a forced refresh for a 401. After a 5xx or 429 from the token endpoint msal refuses every
// identical request for the Retry-After or 60 s (msal-common ThrottlingUtils keeps a throttling
// entry in the instance's cache and answers from it without a network call); an attempt that got a
// 5xx clears that cache (`clearCache()`, which keeps the authority metadata), so that the next
// attempt reaches Entra and a recovered endpoint is used within the caller's backoff, not a minute
// later. A 429's entry is kept: it is Entra's own Retry-After.
import { ConfidentialClientApplication, type Configuration } from '@azure/msal-node';
import { DefenderAuthError } from './errors.ts';

export interface TokenSource {
  get(): Promise<string>;
  /** A token other than `stale`: fetched from Entra unless another caller already replaced it. */
  refresh(stale: string): Promise<string>;
}

export interface TokenProviderOptions {
  readonly tenantId: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly loginUrl: string;
  readonly scope: string;
  /**
   * For emulators/testing: msal requires an https authority, so the authority stays
   * `<loginUrl>/<tenant>` and its metadata points the token request at this (possibly http) URL.
   */
  readonly tokenEndpoint?: string | undefined;
}

function msalConfiguration(opts: TokenProviderOptions): Configuration {
  const authority = `${opts.loginUrl}/${opts.tenantId}`;
  return {
    auth: {
      clientId: opts.clientId,
      clientSecret: opts.clientSecret,
      authority,
      ...(opts.tokenEndpoint !== undefined && {
        authorityMetadata: JSON.stringify({
          token_endpoint: opts.tokenEndpoint,
          authorization_endpoint: `${authority}/oauth2/v2.0/authorize`,
          end_session_endpoint: `${authority}/oauth2/v2.0/logout`,
          issuer: `${authority}/v2.0`,
          jwks_uri: `${authority}/discovery/v2.0/keys`,
        }),
      }),
    },
  };
}

export class TokenProvider implements TokenSource {
  readonly #cca: ConfidentialClientApplication;
  readonly #scope: string;
  #inflight: Promise<string> | undefined;
  #current: string | undefined;

  constructor(opts: TokenProviderOptions) {
    this.#cca = new ConfidentialClientApplication(msalConfiguration(opts));
    this.#scope = opts.scope;
  }

  get(): Promise<string> {
    return this.#flight(false);
  }

  refresh(stale: string): Promise<string> {
    if (this.#current !== undefined && this.#current !== stale) return Promise.resolve(this.#current);
    return this.#flight(true);
  }

  #flight(skipCache: boolean): Promise<string> {
    this.#inflight ??= this.#acquire(skipCache).finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #acquire(skipCache: boolean): Promise<string> {
    let token: string | undefined;
    try {
      token = (await this.#cca.acquireTokenByClientCredential({ scopes: [this.#scope], skipCache }))?.accessToken;
    } catch (e) {
      const transient = isTransientTokenFailure(e);
      // After a 5xx msal would refuse every retry for 60 s; a 429's entry is Entra's own Retry-After: kept.
      const status = (e as { status?: unknown } | null)?.status;
      if (typeof status === 'number' && status >= 500) this.#cca.clearCache();
      throw new DefenderAuthError((e as { errorCode?: string }).errorCode, e, transient);
    }
    if (!token) throw new DefenderAuthError('empty_token');
    this.#current = token;
    return token;
  }
}

/** OAuth error codes by which Entra refuses the credentials or the request: retrying cannot help. */
const ENTRA_REFUSALS: ReadonlySet<string> = new Set(['invalid_client', 'unauthorized_client', 'invalid_request', 'invalid_scope', 'unsupported_grant_type', 'invalid_grant']);

/**
 * A token failure worth retrying: Entra answered 5xx or 429, did not answer (network), or msal
 * answered from its throttling entry (a ServerError without a status). A refusal of the
 * credentials or the request (4xx with Entra's error body) is not.
 */
function isTransientTokenFailure(e: unknown): boolean {
  const code = (e as { errorCode?: unknown } | null)?.errorCode;
  if (typeof code === 'string' && ENTRA_REFUSALS.has(code)) return false;
  const status = (e as { status?: unknown } | null)?.status;
  if (typeof status === 'number') return status >= 500 || status === 429;
  const name = (e as { name?: unknown } | null)?.name;
  // No status: msal's own network failure, or its throttling entry (a ServerError with the stored codes).
  return name === 'ServerError' || code === 'network_error' || code === 'endpoints_resolution_error';
}
