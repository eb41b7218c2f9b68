// Bearer tokens, as OpenCTI checks them on the live streams and the GraphQL API.
import type { IncomingMessage } from 'node:http';
import { header } from '../http.ts';

export class TokenCheck {
  readonly #tokens: ReadonlySet<string>;

  constructor(tokens: string | string[]) {
    this.#tokens = new Set([tokens].flat());
  }

  /** undefined without an Authorization header; else whether it carries an accepted bearer token. */
  check(req: IncomingMessage): boolean | undefined {
    const auth = header(req, 'authorization');
    if (auth === undefined) return undefined;
    const token = auth.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
    return token !== undefined && this.#tokens.has(token);
  }
}
