// The sighting slice of the OpenCTI emulator's GraphQL API against pycti's queries
// (entities/opencti_stix_sighting_relationship.py: create, update_field, read, list;
// entities/opencti_identity.py: create).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startOpenCtiEmulator, type OpenCtiEmulator } from '../src/index.ts';
import { OCTI_EXT } from '../src/opencti/stix.ts';

const TOKEN = 'graphql-token';

// pycti's mutation texts, verbatim in their operative parts.
const SIGHTING_ADD = `
  mutation StixSightingRelationshipAdd($input: StixSightingRelationshipAddInput!) {
    stixSightingRelationshipAdd(input: $input) { id standard_id entity_type parent_types }
  }`;
const FIELD_PATCH = `
  mutation StixSightingRelationshipEdit($id: ID!, $input: [EditInput]!) {
    stixSightingRelationshipEdit(id: $id) { fieldPatch(input: $input) { id } }
  }`;
const IDENTITY_ADD = `
  mutation IdentityAdd($input: IdentityAddInput!) {
    identityAdd(input: $input) { id standard_id entity_type parent_types }
  }`;
const SIGHTINGS = `
  query StixSightingRelationships($fromId: StixRef, $toId: StixRef, $first: Int, $after: ID) {
    stixSightingRelationships(fromId: $fromId, toId: $toId, first: $first, after: $after) {
      edges { node { id standard_id attribute_count first_seen last_seen description from { ... on BasicObject { id } } } }
      pageInfo { endCursor hasNextPage globalCount }
    }
  }`;

type Gql = { data: Record<string, unknown> | null; errors?: Array<{ message: string; extensions: { code: string } }> };

describe('OpenCTI emulator: sightings over GraphQL', () => {
  let octi: OpenCtiEmulator;
  let indicatorId: string;
  let indicatorStandardId: string;
  const gql = async (query: string, variables: Record<string, unknown>, token = TOKEN): Promise<Gql> => {
    const res = await fetch(octi.graphqlUrl, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
    assert.equal(res.status, 200);
    return (await res.json()) as Gql;
  };
  before(async () => {
    octi = await startOpenCtiEmulator({ token: TOKEN, seed: 5, streams: [{ id: 'all' }] });
    const indicator = octi.generator.indicator('ipv4');
    octi.append({ op: 'create', data: indicator });
    indicatorStandardId = indicator.id;
    indicatorId = (indicator.extensions as Record<string, Record<string, string>>)[OCTI_EXT]!.id!;
  });
  after(() => octi.close());

  test('identityAdd upserts on (name, class): the same id for the same tenant name', async () => {
    const a = await gql(IDENTITY_ADD, { input: { type: 'System', name: 'Defender contoso', description: 'd' } });
    const b = await gql(IDENTITY_ADD, { input: { type: 'System', name: ' defender CONTOSO ' } });
    const idA = (a.data?.identityAdd as { id: string; standard_id: string }).id;
    assert.equal((b.data?.identityAdd as { id: string }).id, idA);
    assert.match((a.data?.identityAdd as { standard_id: string }).standard_id, /^identity--[0-9a-f-]{36}$/);
    const bad = await gql(IDENTITY_ADD, { input: { type: 'Planet', name: 'x' } });
    assert.equal(bad.errors?.[0]?.extensions.code, 'VALIDATION_ERROR');
  });

  test('create with a stix_id, then an absolute fieldPatch; a second create upserts (counts add up), fieldPatch restores', async () => {
    const where = ((await gql(IDENTITY_ADD, { input: { type: 'System', name: 'tenant one' } })).data?.identityAdd as { id: string }).id;
    const stixId = 'sighting--087595ee-1cca-5c41-ab01-0166c95706ff';
    const input = {
      fromId: indicatorId,
      toId: where,
      stix_id: stixId,
      description: 'one alert',
      first_seen: '2026-12-05T10:00:00Z',
      last_seen: '2026-12-05T10:00:00Z',
      attribute_count: 1,
      x_opencti_negative: false,
      update: true,
    };
    const created = (await gql(SIGHTING_ADD, { input })).data?.stixSightingRelationshipAdd as { id: string; standard_id: string; entity_type: string };
    assert.equal(created.standard_id, stixId);
    assert.equal(created.entity_type, 'stix-sighting-relationship');
    const again = (await gql(SIGHTING_ADD, { input: { ...input, last_seen: '2026-12-05T11:00:00Z' } })).data?.stixSightingRelationshipAdd as { id: string };
    assert.equal(again.id, created.id, 'one sighting per stix_id');
    assert.equal(octi.sightings().length, 1);
    assert.equal(octi.sightings()[0]!.attribute_count, 2, 'the upsert added the counts (the pessimistic reading)');
    const patched = await gql(FIELD_PATCH, {
      id: created.id,
      input: [{ key: 'attribute_count', value: [1] }, { key: 'last_seen', value: ['2026-12-05T11:00:00Z'] }, { key: 'description', value: ['still one alert'] }],
    });
    assert.equal(patched.errors, undefined);
    const [s] = octi.sightings();
    assert.deepEqual([s!.attribute_count, s!.first_seen, s!.last_seen, s!.description], [1, '2026-12-05T10:00:00.000Z', '2026-12-05T11:00:00.000Z', 'still one alert']);
    assert.deepEqual([s!.from.id, s!.from.standard_id, s!.from.entity_type, s!.to.id], [indicatorId, indicatorStandardId, 'Indicator', where]);
    // Read back as pycti lists them, by the indicator's internal or standard id.
    for (const fromId of [indicatorId, indicatorStandardId]) {
      const list = (await gql(SIGHTINGS, { fromId, toId: where, first: 10 })).data?.stixSightingRelationships as {
        edges: Array<{ node: { attribute_count: number } }>;
        pageInfo: { globalCount: number; hasNextPage: boolean };
      };
      assert.equal(list.pageInfo.globalCount, 1);
      assert.equal(list.edges[0]!.node.attribute_count, 1);
    }
  });

  test('errors as OpenCTI gives them: unknown references, bad dates, bad tokens, OpenCTI down', async () => {
    const where = ((await gql(IDENTITY_ADD, { input: { type: 'System', name: 'tenant two' } })).data?.identityAdd as { id: string }).id;
    const missing = await gql(SIGHTING_ADD, { input: { fromId: 'no-such-entity', toId: where, attribute_count: 1 } });
    assert.equal(missing.errors?.[0]?.extensions.code, 'MISSING_REFERENCE_ERROR');
    const reversed = await gql(SIGHTING_ADD, { input: { fromId: indicatorId, toId: where, first_seen: '2026-12-05T12:00:00Z', last_seen: '2026-12-05T10:00:00Z' } });
    assert.equal(reversed.errors?.[0]?.extensions.code, 'VALIDATION_ERROR');
    const toIndicator = await gql(SIGHTING_ADD, { input: { fromId: where, toId: indicatorId } });
    assert.equal(toIndicator.errors?.[0]?.extensions.code, 'VALIDATION_ERROR');
    const anonymous = await gql(SIGHTINGS, {}, 'wrong');
    assert.equal(anonymous.errors?.[0]?.extensions.code, 'AUTH_REQUIRED');
    octi.setGraphqlDown(503);
    const down = await fetch(octi.graphqlUrl, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ query: SIGHTINGS, variables: {} }),
    });
    assert.equal(down.status, 503);
    octi.setGraphqlDown(undefined);
    // Paging of the list.
    for (let i = 0; i < 3; i++) await gql(SIGHTING_ADD, { input: { fromId: indicatorId, toId: where, attribute_count: 1 } });
    const page = (await gql(SIGHTINGS, { toId: where, first: 2 })).data?.stixSightingRelationships as { edges: unknown[]; pageInfo: { endCursor: string; hasNextPage: boolean } };
    assert.equal(page.edges.length, 2);
    assert.equal(page.pageInfo.hasNextPage, true);
    const rest = (await gql(SIGHTINGS, { toId: where, first: 2, after: page.pageInfo.endCursor })).data?.stixSightingRelationships as { edges: unknown[]; pageInfo: { hasNextPage: boolean } };
    assert.equal(rest.edges.length, 1);
    assert.equal(rest.pageInfo.hasNextPage, false);
  });
});
