// OpenCTI's GraphQL API as the reporter uses it, with pycti's mutations: identityAdd for the
// identity standing for the tenant, stixSightingRelationshipAdd (with the deterministic stix_id, so a
// repeated create upserts) and stixSightingRelationshipEdit.fieldPatch to set count, first and last
// seen and description to absolute values. How OpenCTI merges attribute_count when a create upserts
// is not documented, so every create is followed by a fieldPatch: the count OpenCTI ends with is the
// reporter's, whatever the merge did.
import { readFileSync } from 'node:fs';
import { Agent, request, type Dispatcher } from 'undici';
import type { DesiredSighting, WrittenSighting } from './aggregate.ts';

/** OpenCTI did not answer usably (network, 5xx, not logged in): retry later, nothing is lost. */
export class OpenCtiUnavailableError extends Error {
  override readonly name = 'OpenCtiUnavailableError';
}

/** OpenCTI refused the operation for its content (an unknown entity, a validation error). */
export class OpenCtiRefusedError extends Error {
  override readonly name = 'OpenCtiRefusedError';
  readonly code: string;
  constructor(code: string, message: string) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

/** GraphQL error codes that mean "this request can never succeed as it is". */
const REFUSALS: ReadonlySet<string> = new Set(['MISSING_REFERENCE_ERROR', 'VALIDATION_ERROR', 'FUNCTIONAL_ERROR', 'BAD_USER_INPUT', 'UNSUPPORTED_ERROR', 'ALREADY_DELETED_ERROR']);

const IDENTITY_ADD = `mutation IdentityAdd($input: IdentityAddInput!) {
  identityAdd(input: $input) { id standard_id entity_type parent_types }
}`;
const SIGHTING_ADD = `mutation StixSightingRelationshipAdd($input: StixSightingRelationshipAddInput!) {
  stixSightingRelationshipAdd(input: $input) { id standard_id entity_type parent_types }
}`;
const SIGHTING_PATCH = `mutation StixSightingRelationshipEdit($id: ID!, $input: [EditInput]!) {
  stixSightingRelationshipEdit(id: $id) { fieldPatch(input: $input) { id } }
}`;

export interface SightingSink {
  /** The OpenCTI id of the System identity named `name` (created when missing). */
  ensureIdentity(name: string, description: string): Promise<string>;
  /** Makes OpenCTI hold `d`; `knownId` is the sighting's id when it was written before. */
  write(d: DesiredSighting, knownId: string | undefined): Promise<WrittenSighting & { created: boolean }>;
}

interface OpenCtiClientOptions {
  readonly url: string;
  readonly token: string;
  readonly sslVerify: boolean;
  readonly caFile?: string | undefined;
  readonly timeoutMs: number;
  readonly dispatcher?: Dispatcher;
}

export class OpenCtiClient implements SightingSink {
  readonly #url: string;
  readonly #token: string;
  readonly #timeoutMs: number;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;

  constructor(o: OpenCtiClientOptions) {
    this.#url = `${o.url.replace(/\/+$/, '')}/graphql`;
    this.#token = o.token;
    this.#timeoutMs = o.timeoutMs;
    this.#ownsDispatcher = o.dispatcher === undefined;
    this.#dispatcher = o.dispatcher ?? new Agent({
      connections: 4,
      headersTimeout: o.timeoutMs,
      bodyTimeout: o.timeoutMs,
      connect: { rejectUnauthorized: o.sslVerify, ...(o.caFile ? { ca: readFileSync(o.caFile, 'utf8') } : {}) },
    });
  }

  async ensureIdentity(name: string, description: string): Promise<string> {
    const data = await this.#query(IDENTITY_ADD, { input: { type: 'System', name, description } });
    return idOf(data, 'identityAdd');
  }

  async write(d: DesiredSighting, knownId: string | undefined): Promise<WrittenSighting & { created: boolean }> {
    let id = knownId;
    let created = false;
    if (id !== undefined) {
      try {
        await this.#patch(id, d);
      } catch (e) {
        // Deleted in OpenCTI since: created again under the same stix_id.
        if (!(e instanceof OpenCtiRefusedError && e.code === 'MISSING_REFERENCE_ERROR')) throw e;
        id = undefined;
      }
    }
    if (id === undefined) {
      const data = await this.#query(SIGHTING_ADD, {
        input: {
          fromId: d.fromId,
          toId: d.toId,
          stix_id: d.stixId,
          description: d.description,
          first_seen: d.firstSeen,
          last_seen: d.lastSeen,
          attribute_count: d.count,
          x_opencti_negative: false,
          update: true,
        },
      });
      id = idOf(data, 'stixSightingRelationshipAdd');
      created = true;
      await this.#patch(id, d);
    }
    return { id, count: d.count, firstSeen: d.firstSeen, lastSeen: d.lastSeen, description: d.description, created };
  }

  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  async #patch(id: string, d: DesiredSighting): Promise<void> {
    await this.#query(SIGHTING_PATCH, {
      id,
      input: [
        { key: 'attribute_count', value: [d.count] },
        { key: 'first_seen', value: [d.firstSeen] },
        { key: 'last_seen', value: [d.lastSeen] },
        { key: 'description', value: [d.description] },
      ],
    });
  }

  async #query(query: string, variables: Record<string, unknown>): Promise<Record<string, unknown>> {
    let status: number;
    let text: string;
    try {
      const res = await request(this.#url, {
        method: 'POST',
        dispatcher: this.#dispatcher,
        headers: { authorization: `Bearer ${this.#token}`, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({ query, variables }),
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (e) {
      throw new OpenCtiUnavailableError(`OpenCTI unreachable at ${this.#url}: ${(e as Error).message}`, { cause: e });
    }
    let json: { data?: Record<string, unknown> | null; errors?: Array<{ message?: unknown; extensions?: { code?: unknown } }> };
    try {
      json = JSON.parse(text) as typeof json;
    } catch {
      throw new OpenCtiUnavailableError(`OpenCTI answered ${status} with a body that is not JSON`);
    }
    const [first] = json.errors ?? [];
    if (first) {
      const code = typeof first.extensions?.code === 'string' ? first.extensions.code : 'UNKNOWN';
      const message = typeof first.message === 'string' ? first.message : 'no message';
      if (REFUSALS.has(code)) throw new OpenCtiRefusedError(code, message);
      throw new OpenCtiUnavailableError(`OpenCTI answered ${code}: ${message}`);
    }
    if (status !== 200 || !json.data) throw new OpenCtiUnavailableError(`OpenCTI answered ${status} without data`);
    return json.data;
  }
}

function idOf(data: Record<string, unknown>, field: string): string {
  const id = (data[field] as { id?: unknown } | null | undefined)?.id;
  if (typeof id !== 'string' || id === '') throw new OpenCtiUnavailableError(`OpenCTI's ${field} answered no id`);
  return id;
}
