// The one GraphQL dispatch of the OpenCTI emulator: its parser and its operation table.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { executeGraphql, parseOperation, project, type Operations } from '../src/opencti/graphql.ts';

const ops: Operations = {
  query: { thing: (args, sel) => project({ id: args.id, name: 'n', nested: { a: 1, b: 2 } }, sel.selections, 'Thing') },
  mutation: { touch: (args) => ({ touched: args.input }) },
};

describe('parseOperation', () => {
  it('reads variables, literals, aliases and inline fragments (their fields join the enclosing set)', () => {
    const op = parseOperation('query Q($id: ID!) { a: thing(id: $id, n: 3, l: [true, null], o: {k: "v"}) { id ... on Thing { name } } }', { id: 'x' });
    assert.equal(op.type, 'query');
    const sel = op.selections[0]!;
    assert.deepEqual([sel.alias, sel.name, sel.args], ['a', 'thing', { id: 'x', n: 3, l: [true, null], o: { k: 'v' } }]);
    assert.deepEqual(sel.selections?.map((s) => s.name), ['id', 'name']);
  });

  it('refuses fragment spreads, directives, subscriptions and a second operation', () => {
    assert.throws(() => parseOperation('{ thing { ...Parts } }'), /fragment spreads/);
    assert.throws(() => parseOperation('{ thing @include(if: true) }'), /directives/);
    assert.throws(() => parseOperation('subscription { thing }'), /subscriptions/);
    assert.throws(() => parseOperation('{ thing } { thing }'), /one operation/);
  });
});

describe('executeGraphql', () => {
  it('answers every root field from the table, by alias, with __typename', () => {
    assert.deepEqual(executeGraphql({ query: '{ __typename t: thing(id: "1") { id nested { a } } }' }, ops), { data: { __typename: 'Query', t: { id: '1', nested: { a: 1 } } } });
    assert.deepEqual(executeGraphql({ query: 'mutation M($i: String) { touch(input: $i) }', variables: { i: 'v' } }, ops), { data: { touch: { touched: 'v' } } });
  });

  it('answers errors as OpenCTI does: data null and the code', () => {
    const errorOf = (body: unknown): unknown => (executeGraphql(body, ops) as { errors: unknown[] }).errors[0];
    assert.deepEqual(errorOf({}), { message: 'Must provide query string.', extensions: { code: 'BAD_REQUEST' } });
    assert.deepEqual(errorOf({ query: '{ touch }' }), { message: 'Cannot query field "touch" on type "Query".', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    assert.deepEqual(errorOf({ query: '{ toString }' }), { message: 'Cannot query field "toString" on type "Query".', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    assert.deepEqual(errorOf({ query: '{ thing { missing } }' }), { message: 'Cannot query field "missing" on type "Thing".', extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    assert.equal((executeGraphql({ query: '{ thing' }, ops) as { data: unknown }).data, null);
  });
});
