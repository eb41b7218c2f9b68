// OpenCTI's sightings as pycti writes and reads them over GraphQL, and the identities they are
// sighted at: identityAdd (the "where sighted" identity), stixSightingRelationshipAdd (pycti
// stix_sighting_relationship.create: input fromId, toId, stix_id, description, first_seen, last_seen,
// attribute_count, x_opencti_negative, createdBy, objectMarking, externalReferences, update…),
// stixSightingRelationshipEdit(id).fieldPatch(input: [EditInput]) (pycti update_field), and the
// reads stixSightingRelationship(id) / stixSightingRelationships(fromId, toId, first, after).
// Their answers are not projected on the selection set: they carry the fields pycti selects.
import { isRecord, uuid5 } from '@octi-defender/indicators';
import { randomUUID } from 'node:crypto';
import { executeGraphql, GraphQlError, parseOperation, type Operations } from './graphql.ts';

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

interface GraphqlAnswer {
  readonly status: number;
  readonly body: unknown;
}

const IDENTITY_CLASSES: Readonly<Record<string, string>> = { Organization: 'organization', Individual: 'individual', System: 'system', Sector: 'class', SecurityPlatform: 'securityplatform' };

const iso = (v: unknown, field: string): string => {
  if (typeof v !== 'string' || Number.isNaN(Date.parse(v))) throw new GraphQlError(`${field} is not a valid DateTime: ${JSON.stringify(v)}`, 'VALIDATION_ERROR');
  return new Date(Date.parse(v)).toISOString();
};

/** The operation's root field: the first field of the first selection set (undefined when the query does not parse). */
export function rootField(query: string): string | undefined {
  try {
    return parseOperation(query).selections[0]?.name;
  } catch (err) {
    if (err instanceof GraphQlError) return undefined;
    throw err;
  }
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

  /** The sighting and identity operations, for the emulator's one GraphQL dispatch. */
  operations(): Operations {
    return {
      query: {
        stixSightingRelationship: (args) => this.#find(args.id) ?? null,
        stixSightingRelationships: (args) => this.#list(args),
      },
      mutation: {
        identityAdd: (args) => this.#identityAdd(args.input),
        stixSightingRelationshipAdd: (args) => this.#sightingAdd(args.input),
        stixSightingRelationshipEdit: (args, sel) => {
          const patch = sel.selections?.find((s) => s.name === 'fieldPatch');
          if (!patch) throw new GraphQlError('the emulator supports fieldPatch only under stixSightingRelationshipEdit', 'UNSUPPORTED_ERROR');
          return { [patch.alias]: this.#fieldPatch(args.id, patch.args.input) };
        },
      },
    };
  }

  /** One POST /graphql body, already authenticated, answered with these operations only. */
  handle(body: unknown): GraphqlAnswer {
    if (!isRecord(body) || typeof body.query !== 'string') return { status: 400, body: { errors: [{ message: 'Must provide query string.', extensions: { code: 'BAD_USER_INPUT' } }] } };
    return { status: 200, body: executeGraphql(body, this.operations()) };
  }

  #identityAdd(input: unknown): EntityRef & { parent_types: string[] } {
    if (!isRecord(input) || typeof input.name !== 'string' || input.name.trim() === '') throw new GraphQlError('identityAdd needs input.name', 'VALIDATION_ERROR');
    const type = typeof input.type === 'string' ? input.type : '';
    const identityClass = IDENTITY_CLASSES[type];
    if (identityClass === undefined) throw new GraphQlError(`identityAdd input.type must be one of ${Object.keys(IDENTITY_CLASSES).join(', ')}`, 'VALIDATION_ERROR');
    // OpenCTI's standard id of an identity: its name (lower-cased, trimmed) and class.
    const standardId = `identity--${uuid5(OPENCTI_NAMESPACE, JSON.stringify({ identity_class: identityClass, name: input.name.trim().toLowerCase() }))}`;
    const existing = [...this.#identities.values()].find((i) => i.standard_id === standardId);
    const identity = existing ??
      {
        id: randomUUID(),
        standard_id: standardId,
        entity_type: type,
        name: input.name.trim(),
        identity_class: identityClass,
        description: typeof input.description === 'string' ? input.description : null,
      };
    this.#identities.set(identity.id, identity);
    return {
      id: identity.id,
      standard_id: identity.standard_id,
      entity_type: identity.entity_type,
      parent_types: ['Basic-Object', 'Stix-Object', 'Stix-Core-Object', 'Stix-Domain-Object', 'Identity'],
    };
  }

  #ref(id: unknown, side: string): EntityRef {
    if (typeof id !== 'string' || id === '') throw new GraphQlError(`${side} is required`, 'VALIDATION_ERROR');
    const identity = this.#identities.get(id) ?? [...this.#identities.values()].find((i) => i.standard_id === id);
    const found = identity ?? this.#resolveEntity(id);
    if (!found) throw new GraphQlError(`Element not found: ${side} ${id}`, 'MISSING_REFERENCE_ERROR');
    return { id: found.id, standard_id: found.standard_id, entity_type: found.entity_type };
  }

  #sightingAdd(input: unknown): EntityRef & { parent_types: string[] } {
    if (!isRecord(input)) throw new GraphQlError('stixSightingRelationshipAdd needs input', 'VALIDATION_ERROR');
    const from = this.#ref(input.fromId, 'fromId');
    const to = this.#ref(input.toId, 'toId');
    if (to.entity_type === 'Indicator' || to.entity_type.endsWith('-Addr') || to.entity_type === 'Url' || to.entity_type === 'StixFile' || to.entity_type === 'Domain-Name') {
      throw new GraphQlError(`a sighting cannot be sighted at a ${to.entity_type} (toId must be an identity or a location)`, 'VALIDATION_ERROR');
    }
    const now = new Date(this.#now()).toISOString();
    const firstSeen = input.first_seen == null ? now : iso(input.first_seen, 'first_seen');
    const lastSeen = input.last_seen == null ? firstSeen : iso(input.last_seen, 'last_seen');
    if (Date.parse(firstSeen) > Date.parse(lastSeen)) throw new GraphQlError('The first_seen date must be before or equal to the last_seen date', 'VALIDATION_ERROR');
    const count = input.attribute_count == null ? 1 : input.attribute_count;
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0) throw new GraphQlError(`attribute_count must be a non-negative integer, got ${JSON.stringify(count)}`, 'VALIDATION_ERROR');
    if (input.stix_id != null && (typeof input.stix_id !== 'string' || !/^sighting--[0-9a-f-]{36}$/.test(input.stix_id))) {
      throw new GraphQlError(`stix_id is not a sighting STIX id: ${JSON.stringify(input.stix_id)}`, 'VALIDATION_ERROR');
    }
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
    if (!sighting) throw new GraphQlError(`Element not found: ${String(id)}`, 'MISSING_REFERENCE_ERROR');
    if (!Array.isArray(input)) throw new GraphQlError('fieldPatch input must be a list of EditInput', 'VALIDATION_ERROR');
    const next = structuredClone(sighting);
    for (const edit of input) {
      if (!isRecord(edit) || typeof edit.key !== 'string' || !Array.isArray(edit.value)) throw new GraphQlError('EditInput is {key, value: [..], operation?}', 'VALIDATION_ERROR');
      if (edit.operation !== undefined && edit.operation !== null && edit.operation !== 'replace') {
        throw new GraphQlError(`operation ${JSON.stringify(edit.operation)} is not emulated`, 'UNSUPPORTED_ERROR');
      }
      const [value] = edit.value as unknown[];
      switch (edit.key) {
        case 'attribute_count': {
          const n = typeof value === 'string' ? Number(value) : value;
          if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new GraphQlError(`attribute_count must be a non-negative integer, got ${JSON.stringify(value)}`, 'VALIDATION_ERROR');
          next.attribute_count = n;
          break;
        }
        case 'first_seen':
          next.first_seen = iso(value, 'first_seen');
          break;
        case 'last_seen':
          next.last_seen = iso(value, 'last_seen');
          break;
        case 'description':
          next.description = typeof value === 'string' ? value : null;
          break;
        case 'x_opencti_negative':
          next.x_opencti_negative = value === true || value === 'true';
          break;
        case 'confidence':
          next.confidence = typeof value === 'number' ? value : Number(value);
          break;
        default:
          throw new GraphQlError(`field ${edit.key} is not emulated`, 'UNSUPPORTED_ERROR');
      }
    }
    if (Date.parse(next.first_seen) > Date.parse(next.last_seen)) throw new GraphQlError('The first_seen date must be before or equal to the last_seen date', 'VALIDATION_ERROR');
    next.updated_at = new Date(this.#now()).toISOString();
    this.#sightings.set(next.id, next);
    return structuredClone(next);
  }

  #list(v: Readonly<Record<string, unknown>>): unknown {
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
