// Entra client-credentials tokens through one msal-node ConfidentialClientApplication (its cache is
// per instance), with single-flight acquisition (msal does not de-duplicate parallel cold calls)
// and a forced refresh for a 401.
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

export function msalConfiguration(opts: TokenProviderOptions): Configuration {
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
      throw new DefenderAuthError((e as { errorCode?: string }).errorCode, e);
    }
    if (!token) throw new DefenderAuthError('empty_token');
    this.#current = token;
    return token;
  }
}
