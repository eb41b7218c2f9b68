// The OpenCTI emulator's connector operations over real HTTP, with the documents pycti sends
// (RegisterConnector, PingConnector, GetConnector, verbatim) and the ones OpenCTI's UI sends (the
// connectors list, ConnectorResetStateMutation), checked against the platform's behaviour as
// libs/emulators/README.md (OpenCTI connector registration) describes it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startOpenCtiEmulator, type OpenCtiEmulator } from '../src/index.ts';

const TOKEN = 'connectors-token';

// pycti's RegisterConnector, verbatim.
const REGISTER = `
  mutation RegisterConnector($input: RegisterConnectorInput) {
    registerConnector(input: $input) {
      id
      connector_state
      config {
        connection { host vhost use_ssl port user pass }
        listen
        listen_routing
        listen_exchange
        push
        push_routing
        push_exchange
      }
      connector_user_id
    }
  }`;
// pycti's PingConnector, verbatim.
const PING = `
  mutation PingConnector($id: ID!, $state: String, $connectorInfo: ConnectorInfoInput ) {
    pingConnector(id: $id, state: $state, connectorInfo: $connectorInfo) {
      id
      connector_state
      connector_info {
        run_and_terminate
        buffering
        queue_threshold
        queue_messages_size
        next_run_datetime
        last_run_datetime
      }
    }
  }`;
// pycti's GetConnector (connector(id) read).
const READ = `
  query GetConnector($id: String!) {
    connector(id: $id) {
      id name active auto only_contextual connector_type connector_scope connector_state
      connector_queue_details { messages_number messages_size }
      updated_at created_at
      config { listen listen_exchange push push_exchange push_routing }
      built_in
    }
  }`;
// The UI's reset (ConnectorResetStateMutation) and a connectors list as the UI's status page reads it.
const RESET = `mutation ConnectorResetStateMutation($id: ID!) { resetStateConnector(id: $id) { id } }`;
const LIST = `query ConnectorsStatusQuery { connectors { id name active auto connector_type connector_scope connector_state updated_at } }`;

const ID = '7d6f3c1e-5a0b-4c55-9f55-0d8b7b5c2a11';
const INFO = { run_and_terminate: false, buffering: false, queue_threshold: 500.0, queue_messages_size: 0.0, next_run_datetime: null, last_run_datetime: null };

describe('OpenCTI emulator: connector registration over GraphQL', () => {
  let octi: OpenCtiEmulator;
  let now = Date.parse('2026-01-10T10:00:00Z');
  before(async () => {
    octi = await startOpenCtiEmulator({ token: TOKEN, streams: [{ id: 's' }], clock: () => now });
  });
  after(() => octi.close());

  const gql = async (
    query: string,
    variables: Record<string, unknown> = {},
    token = TOKEN,
  ): Promise<{ status: number; body: { data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: { code?: string } }> } }> => {
    const res = await fetch(`${octi.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, body: (await res.json()) as never };
  };
  const data = async (query: string, variables: Record<string, unknown> = {}): Promise<Record<string, unknown>> => {
    const { status, body } = await gql(query, variables);
    assert.equal(status, 200);
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    return body.data!;
  };

  test('registerConnector as pycti sends it: a new connector has no state, exactly the selected fields come back', async () => {
    // pycti's OpenCTIConnector.to_input() for a stream connector.
    const input = {
      id: ID,
      name: 'octi-defender',
      type: 'STREAM',
      scope: ['defender'],
      auto: false,
      auto_update: false,
      enrichment_resolution: 'none',
      only_contextual: false,
      playbook_compatible: false,
      listen_callback_uri: null,
    };
    const out = (await data(REGISTER, { input })).registerConnector as Record<string, unknown>;
    assert.deepEqual(Object.keys(out), ['id', 'connector_state', 'config', 'connector_user_id']);
    assert.equal(out.id, ID);
    assert.equal(out.connector_state, null);
    assert.equal(typeof out.connector_user_id, 'string');
    assert.deepEqual(Object.keys(out.config as object), ['connection', 'listen', 'listen_routing', 'listen_exchange', 'push', 'push_routing', 'push_exchange']);

    const list = (await data(LIST)).connectors as Array<Record<string, unknown>>;
    assert.deepEqual(list, [{
      id: ID,
      name: 'octi-defender',
      active: true,
      auto: false,
      connector_type: 'STREAM',
      connector_scope: ['defender'],
      connector_state: null,
      updated_at: new Date(now).toISOString(),
    }]);
  });

  test('pingConnector stores the state string and returns it; the connector stays active while it pings', async () => {
    now += 40_000;
    const state = JSON.stringify({ start_from: '1767958800000-3', recover_until: '2026-01-09T10:00:00.000Z' });
    const out = (await data(PING, { id: ID, state, connectorInfo: INFO })).pingConnector as Record<string, unknown>;
    assert.equal(out.connector_state, state);
    assert.deepEqual(out.connector_info, INFO);
    const read = (await data(READ, { id: ID })).connector as Record<string, unknown>;
    assert.equal(read.connector_state, state);
    assert.equal(read.updated_at, new Date(now).toISOString());
    assert.equal(read.active, true);
    // Silent for 5 minutes: inactive (the UI's "last seen" rule).
    now += 5 * 60_000;
    assert.equal(((await data(READ, { id: ID })).connector as Record<string, unknown>).active, false);
  });

  test('resetStateConnector stores an empty state; the next ping only clears the flag and answers the empty state; the one after stores again', async () => {
    const before = (await data(READ, { id: ID })).connector as Record<string, unknown>;
    assert.deepEqual((await data(RESET, { id: ID })).resetStateConnector, { id: ID });
    assert.equal(((await data(READ, { id: ID })).connector as Record<string, unknown>).connector_state, '');
    assert.equal(octi.connectors()[0]?.connector_state_reset, true);

    now += 40_000;
    const old = JSON.stringify({ start_from: '1767958800000-9', recover_until: false });
    const first = (await data(PING, { id: ID, state: old, connectorInfo: INFO })).pingConnector as Record<string, unknown>;
    assert.equal(first.connector_state, '', 'the reset is answered, the old state not stored');
    const read = (await data(READ, { id: ID })).connector as Record<string, unknown>;
    assert.equal(read.updated_at, before.updated_at, 'the flag-clearing ping does not count as alive');
    assert.equal(octi.connectors()[0]?.connector_state_reset, false);

    const fresh = JSON.stringify({ start_from: '0-0', recover_until: '2026-01-10T10:07:00.000Z' });
    const second = (await data(PING, { id: ID, state: fresh, connectorInfo: INFO })).pingConnector as Record<string, unknown>;
    assert.equal(second.connector_state, fresh);
  });

  test('registering again updates the description and keeps the stored state', async () => {
    const stateBefore = octi.connectors()[0]?.connector_state;
    const input = { id: ID, name: 'octi-defender renamed', type: 'STREAM', scope: ['defender', 'mde'], auto: false, only_contextual: false, playbook_compatible: false };
    const out = (await data(REGISTER, { input })).registerConnector as Record<string, unknown>;
    assert.equal(out.connector_state, stateBefore);
    const list = (await data(LIST)).connectors as Array<Record<string, unknown>>;
    assert.equal(list[0]?.name, 'octi-defender renamed');
    assert.deepEqual(list[0]?.connector_scope, ['defender', 'mde']);
  });

  test('errors as a GraphQL server answers them: no token, unknown connector, unknown field, bad connector type', async () => {
    const anonymous = await gql(LIST, {}, '');
    assert.equal(anonymous.status, 200);
    assert.equal(anonymous.body.errors?.[0]?.extensions?.code, 'AUTH_REQUIRED');
    const wrong = await gql(LIST, {}, 'not-the-token');
    assert.equal(wrong.body.errors?.[0]?.extensions?.code, 'AUTH_REQUIRED');
    const missing = await gql(PING, { id: 'no-such-connector', state: '{}', connectorInfo: INFO });
    assert.match(missing.body.errors?.[0]?.message ?? '', /No connector found/);
    const field = await gql('query { connectors { id no_such_field } }');
    assert.match(field.body.errors?.[0]?.message ?? '', /Cannot query field "no_such_field"/);
    const type = await gql(REGISTER, { input: { id: 'x', name: 'x', type: 'NOT_A_TYPE', scope: [] } });
    assert.match(type.body.errors?.[0]?.message ?? '', /ConnectorType/);
    assert.equal(octi.connectors().length, 1);
  });

  test('with GraphQL down (503) the live stream still answers', async () => {
    octi.setGraphqlDown(true);
    try {
      assert.equal((await fetch(`${octi.url}/graphql`, { method: 'POST', body: '{}' })).status, 503);
      const stream = await fetch(octi.streamUrl('s'), { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(stream.status, 200);
      await stream.body?.cancel();
    } finally {
      octi.setGraphqlDown(false);
    }
  });

  test('deleteConnector unregisters', async () => {
    const out = await data(`mutation ConnectorDeletionMutation($id: ID!) { deleteConnector(id: $id) }`, { id: ID });
    assert.equal(out.deleteConnector, ID);
    assert.deepEqual((await data(LIST)).connectors, []);
  });
});
