// The slice of OpenCTI's GraphQL API (POST /graphql) that reports sightings, as pycti calls it:
// identityAdd (the "where sighted" identity), stixSightingRelationshipAdd (pycti
// stix_sighting_relationship.create: input fromId, toId, stix_id, description, first_seen, last_seen,
// attribute_count, x_opencti_negative, createdBy, objectMarking, externalReferences, update…),
// stixSightingRelationshipEdit(id).fieldPatch(input: [EditInput]) (pycti update_field), and the
// reads stixSightingRelationship(id) / stixSightingRelationships(fromId, toId, first, after).
//
// Operations are recognised by their root field (SIGHTING_FIELDS; the emulator's /graphql route sends
// the others, the connector operations, to graphql.ts) and take their arguments from `variables`, the
// way pycti sends every query; selection sets are not interpreted: answers carry the fields pycti selects.
// Errors come back as OpenCTI's do: HTTP 200 with `errors[].extensions.code`.
import { isRecord, uuid5 } from '@octi-defender/indicators';
import { randomUUID } from 'node:crypto';

/** OpenCTI's uuid5 namespace for standard ids. */
const OPENCTI_NAMESPACE = '00abedb4-aa42-466c-9c01-fed23315a9b7';

export interface EntityRef {
  readonly id: string;
  readonly standard_id: string;
  readonly entity_type: string;
}

export interface EmulatedIdentity extends EntityRef {
  readonly name: string;
  readonly identity_class: string;
  readonly description: string | null;
}

export interface EmulatedSighting {
  id: string;
  standard_id: string;
  entity_type: 'stix-sighting-relationship';
  parent_types: string[];
  description: string | null;
  first_seen: string;
  last_seen: string;
  attribute_count: number;
  x_opencti_negative: boolean;
  confidence: number | null;
  created_at: string;
  updated_at: string;
  from: EntityRef;
  to: EntityRef;
  createdBy: string | null;
  objectMarking: string[];
}

export interface GraphqlAnswer {
  readonly status: number;
  readonly body: unknown;
}

class GraphqlError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

const IDENTITY_CLASSES: Readonly<Record<string, string>> = { Organization: 'organization', Individual: 'individual', System: 'system', Sector: 'class', SecurityPlatform: 'securityplatform' };

const iso = (v: unknown, field: string): string => {
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) throw new GraphqlError('VALIDATION_ERROR', `${field} is not a valid DateTime: ${JSON.stringify(v)}`);
  return new Date(Date.parse(v)).toISOString();
};

/** The operation's root field: the first field of the first selection set. */
/** The root fields this slice answers; the emulator sends the other operations to the connectors' handler. */
export const SIGHTING_FIELDS: ReadonlySet<string> = new Set(['identityAdd', 'stixSightingRelationshipAdd', 'stixSightingRelationshipEdit', 'stixSightingRelationship', 'stixSightingRelationships']);

export function rootField(query: string): string | undefined {
  return /^\s*(?:(?:query|mutation)\b[^{]*)?\{\s*([A-Za-z_]\w*)/.exec(query)?.[1];
}

export class OpenCtiGraphql {
  readonly #resolveEntity: (ref: string) => EntityRef | undefined;
  readonly #now: () => number;
  readonly #identities = new Map<string, EmulatedIdentity>();
  readonly #sightings = new Map<string, EmulatedSighting>();

  constructor(resolveEntity: (ref: string) => EntityRef | undefined, now: () => number) {
    this.#resolveEntity = resolveEntity;
    this.#now = now;
  }

  identities(): EmulatedIdentity[] {
    return [...this.#identities.values()];
  }

  sightings(): EmulatedSighting[] {
    return [...this.#sightings.values()].map((s) => structuredClone(s));
  }

  /** One POST /graphql, already authenticated. */
  handle(body: unknown): GraphqlAnswer {
    if (!isRecord(body) || typeof body.query !== 'string') return { status: 400, body: { errors: [{ message: 'Must provide query string.', extensions: { code: 'BAD_USER_INPUT' } }] } };
    const variables = isRecord(body.variables) ? body.variables : {};
    const field = rootField(body.query);
    try {
      switch (field) {
        case 'identityAdd': return ok(field, this.#identityAdd(variables.input));
        case 'stixSightingRelationshipAdd': return ok(field, this.#sightingAdd(variables.input));
        case 'stixSightingRelationshipEdit': {
          if (!/\bfieldPatch\s*\(/.test(body.query)) throw new GraphqlError('UNSUPPORTED_ERROR', 'the emulator supports fieldPatch only under stixSightingRelationshipEdit');
          return ok(field, { fieldPatch: this.#fieldPatch(variables.id, variables.input) });
        }
        case 'stixSightingRelationship': return ok(field, this.#find(variables.id) ?? null);
        case 'stixSightingRelationships': return ok(field, this.#list(variables));
        default: throw new GraphqlError('UNSUPPORTED_ERROR', `operation ${field ?? '(none)'} is not emulated`);
      }
    } catch (e) {
      if (!(e instanceof GraphqlError)) throw e;
      return { status: 200, body: { errors: [{ message: e.message, extensions: { code: e.code } }], data: null } };
    }
  }

  #identityAdd(input: unknown): EntityRef & { parent_types: string[] } {
    if (!isRecord(input) || typeof input.name !== 'string' || input.name.trim() === '') throw new GraphqlError('VALIDATION_ERROR', 'identityAdd needs input.name');
    const type = typeof input.type === 'string' ? input.type : '';
    const identityClass = IDENTITY_CLASSES[type];
    if (identityClass === undefined) throw new GraphqlError('VALIDATION_ERROR', `identityAdd input.type must be one of ${Object.keys(IDENTITY_CLASSES).join(', ')}`);
    // OpenCTI's standard id of an identity: its name (lower-cased, trimmed) and class.
    const standardId = `identity--${uuid5(OPENCTI_NAMESPACE, JSON.stringify({ identity_class: identityClass, name: input.name.trim().toLowerCase() }))}`;
    const existing = [...this.#identities.values()].find((i) => i.standard_id === standardId);
    const identity = existing ?? { id: randomUUID(), standard_id: standardId, entity_type: type, name: input.name.trim(), identity_class: identityClass, description: typeof input.description === 'string' ? input.description : null };
    this.#identities.set(identity.id, identity);
    return { id: identity.id, standard_id: identity.standard_id, entity_type: identity.entity_type, parent_types: ['Basic-Object', 'Stix-Object', 'Stix-Core-Object', 'Stix-Domain-Object', 'Identity'] };
  }

  #ref(id: unknown, side: string): EntityRef {
    if (typeof id !== 'string' || id === '') throw new GraphqlError('VALIDATION_ERROR', `${side} is required`);
    const identity = this.#identities.get(id) ?? [...this.#identities.values()].find((i) => i.standard_id === id);
    const found = identity ?? this.#resolveEntity(id);
    if (!found) throw new GraphqlError('MISSING_REFERENCE_ERROR', `Element not found: ${side} ${id}`);
    return { id: found.id, standard_id: found.standard_id, entity_type: found.entity_type };
  }

  #sightingAdd(input: unknown): EntityRef & { parent_types: string[] } {
    if (!isRecord(input)) throw new GraphqlError('VALIDATION_ERROR', 'stixSightingRelationshipAdd needs input');
    const from = this.#ref(input.fromId, 'fromId');
    const to = this.#ref(input.toId, 'toId');
    if (to.entity_type === 'Indicator' || to.entity_type.endsWith('-Addr') || to.entity_type === 'Url' || to.entity_type === 'StixFile' || to.entity_type === 'Domain-Name') {
      throw new GraphqlError('VALIDATION_ERROR', `a sighting cannot be sighted at a ${to.entity_type} (toId must be an identity or a location)`);
    }
    const now = new Date(this.#now()).toISOString();
    const firstSeen = input.first_seen == null ? now : iso(input.first_seen, 'first_seen');
    const lastSeen = input.last_seen == null ? firstSeen : iso(input.last_seen, 'last_seen');
    if (Date.parse(firstSeen) > Date.parse(lastSeen)) throw new GraphqlError('VALIDATION_ERROR', 'The first_seen date must be before or equal to the last_seen date');
    const count = input.attribute_count == null ? 1 : input.attribute_count;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) throw new GraphqlError('VALIDATION_ERROR', `attribute_count must be a non-negative integer, got ${JSON.stringify(count)}`);
    if (input.stix_id != null && (typeof input.stix_id !== 'string' || !/^sighting--[0-9a-f-]{36}$/.test(input.stix_id))) throw new GraphqlError('VALIDATION_ERROR', `stix_id is not a sighting STIX id: ${JSON.stringify(input.stix_id)}`);
    const standardId = typeof input.stix_id === 'string' ? input.stix_id : `sighting--${randomUUID()}`;
    const existing = [...this.#sightings.values()].find((s) => s.standard_id === standardId);
    if (existing) {
      // An upsert. How OpenCTI merges attribute_count on upsert is not documented: this emulator takes
      // the reading that hurts an idempotent client most (the counts add up), so a client that must
      // never double a count has to set it absolutely (fieldPatch), as the reporter does.
      existing.first_seen = Date.parse(firstSeen) < Date.parse(existing.first_seen) ? firstSeen : existing.first_seen;
      existing.last_seen = Date.parse(lastSeen) > Date.parse(existing.last_seen) ? lastSeen : existing.last_seen;
      existing.attribute_count += count;
      if (typeof input.description === 'string') existing.description = input.description;
      existing.updated_at = now;
      return { id: existing.id, standard_id: existing.standard_id, entity_type: existing.entity_type, parent_types: existing.parent_types };
    }
    const sighting: EmulatedSighting = {
      id: randomUUID(),
      standard_id: standardId,
      entity_type: 'stix-sighting-relationship',
      parent_types: ['basic-relationship', 'stix-relationship'],
      description: typeof input.description === 'string' ? input.description : null,
      first_seen: firstSeen,
      last_seen: lastSeen,
      attribute_count: count,
      x_opencti_negative: input.x_opencti_negative === true,
      confidence: typeof input.confidence === 'number' ? input.confidence : null,
      created_at: now,
      updated_at: now,
      from,
      to,
      createdBy: typeof input.createdBy === 'string' ? input.createdBy : null,
      objectMarking: Array.isArray(input.objectMarking) ? input.objectMarking.filter((m): m is string => typeof m === 'string') : [],
    };
    this.#sightings.set(sighting.id, sighting);
    return { id: sighting.id, standard_id: sighting.standard_id, entity_type: sighting.entity_type, parent_types: sighting.parent_types };
  }

  #find(id: unknown): EmulatedSighting | undefined {
    if (typeof id !== 'string') return undefined;
    return this.#sightings.get(id) ?? [...this.#sightings.values()].find((s) => s.standard_id === id);
  }

  #fieldPatch(id: unknown, input: unknown): EmulatedSighting {
    const sighting = this.#find(id);
    if (!sighting) throw new GraphqlError('MISSING_REFERENCE_ERROR', `Element not found: ${String(id)}`);
    if (!Array.isArray(input)) throw new GraphqlError('VALIDATION_ERROR', 'fieldPatch input must be a list of EditInput');
    const next = structuredClone(sighting);
    for (const edit of input) {
      if (!isRecord(edit) || typeof edit.key !== 'string' || !Array.isArray(edit.value)) throw new GraphqlError('VALIDATION_ERROR', 'EditInput is {key, value: [..], operation?}');
      if (edit.operation !== undefined && edit.operation !== null && edit.operation !== 'replace') throw new GraphqlError('UNSUPPORTED_ERROR', `operation ${JSON.stringify(edit.operation)} is not emulated`);
      const [value] = edit.value as unknown[];
      switch (edit.key) {
        case 'attribute_count': {
          const n = typeof value === 'string' ? Number(value) : value;
          if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new GraphqlError('VALIDATION_ERROR', `attribute_count must be a non-negative integer, got ${JSON.stringify(value)}`);
          next.attribute_count = n;
          break;
        }
        case 'first_seen': next.first_seen = iso(value, 'first_seen'); break;
        case 'last_seen': next.last_seen = iso(value, 'last_seen'); break;
        case 'description': next.description = typeof value === 'string' ? value : null; break;
        case 'x_opencti_negative': next.x_opencti_negative = value === true || value === 'true'; break;
        case 'confidence': next.confidence = typeof value === 'number' ? value : Number(value); break;
        default: throw new GraphqlError('UNSUPPORTED_ERROR', `field ${edit.key} is not emulated`);
      }
    }
    if (Date.parse(next.first_seen) > Date.parse(next.last_seen)) throw new GraphqlError('VALIDATION_ERROR', 'The first_seen date must be before or equal to the last_seen date');
    next.updated_at = new Date(this.#now()).toISOString();
    this.#sightings.set(next.id, next);
    return structuredClone(next);
  }

  #list(v: Record<string, unknown>): unknown {
    const matches = (ref: EntityRef, id: unknown): boolean => id == null || ref.id === id || ref.standard_id === id;
    const all = [...this.#sightings.values()].filter((s) => matches(s.from, v.fromId) && matches(s.to, v.toId));
    const first = typeof v.first === 'number' && v.first > 0 ? Math.min(v.first, 5000) : 100;
    const start = typeof v.after === 'string' && /^\d+$/.test(v.after) ? Number(v.after) : 0;
    const page = all.slice(start, start + first);
    return {
      edges: page.map((node, i) => ({ node, cursor: String(start + i + 1) })),
      pageInfo: {
        startCursor: page.length > 0 ? String(start + 1) : null,
        endCursor: page.length > 0 ? String(start + page.length) : null,
        hasNextPage: start + page.length < all.length,
        hasPreviousPage: start > 0,
        globalCount: all.length,
      },
    };
  }
}

function ok(field: string, value: unknown): GraphqlAnswer {
  return { status: 200, body: { data: { [field]: value } } };
}
