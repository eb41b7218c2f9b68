// The one GraphQL dispatch of the OpenCTI emulator (POST /graphql): a parser for one operation per
// request (query or mutation), root fields with arguments given as variables or literals, nested
// selection sets, aliases, inline fragments and `__typename`; and executeGraphql, which answers each
// root field from one operation table that the modules fill (connectors.ts, sightings.ts). No named
// fragments, directives or introspection: the clients it serves (pycti's connector and sighting
// queries, OpenCTI's UI connector list, this project's listener, reporter and command line) use none.
// Errors come back as OpenCTI's do: HTTP 200 with `errors[].extensions.code` and `data: null`.
import { isRecord } from '@octi-defender/indicators';

export interface Selection {
  readonly alias: string;
  readonly name: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly selections: readonly Selection[] | undefined;
}

export interface Operation {
  readonly type: 'query' | 'mutation';
  readonly selections: readonly Selection[];
}

export class GraphQlError extends Error {
  readonly code: string | undefined;
  constructor(message: string, code?: string) {
    super(message);
    this.code = code;
  }
}

type Token = { kind: 'punct' | 'name' | 'string' | 'number' | 'var'; text: string };

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (/[\s,]/.test(c)) {
      i++;
    } else if (c === '#') {
      while (i < source.length && source[i] !== '\n') i++;
    } else if ('{}():[]!=@'.includes(c)) {
      tokens.push({ kind: 'punct', text: c });
      i++;
    } else if (c === '$') {
      const m = /^\$([_A-Za-z][_0-9A-Za-z]*)/.exec(source.slice(i));
      if (!m) throw new GraphQlError(`Syntax Error: unexpected "$" at ${i}`, 'GRAPHQL_PARSE_FAILED');
      tokens.push({ kind: 'var', text: m[1]! });
      i += m[0].length;
    } else if (c === '"') {
      const m = /^"((?:[^"\\]|\\.)*)"/.exec(source.slice(i));
      if (!m) throw new GraphQlError(`Syntax Error: unterminated string at ${i}`, 'GRAPHQL_PARSE_FAILED');
      tokens.push({ kind: 'string', text: JSON.parse(m[0]) as string });
      i += m[0].length;
    } else {
      const m = /^(-?\d+(\.\d+)?([eE][+-]?\d+)?|[_A-Za-z][_0-9A-Za-z]*|\.\.\.)/.exec(source.slice(i));
      if (!m) throw new GraphQlError(`Syntax Error: unexpected character "${c}" at ${i}`, 'GRAPHQL_PARSE_FAILED');
      tokens.push({ kind: m[0] === '...' ? 'punct' : /^-?\d/.test(m[0]) ? 'number' : 'name', text: m[0] });
      i += m[0].length;
    }
  }
  return tokens;
}

/** Parses a document holding one operation, resolving `$variables` from `variables`. */
export function parseOperation(source: string, variables: Readonly<Record<string, unknown>> = {}): Operation {
  const tokens = tokenize(source);
  let at = 0;
  const peek = (): Token | undefined => tokens[at];
  const next = (): Token => {
    const t = tokens[at++];
    if (!t) throw new GraphQlError('Syntax Error: unexpected end of document', 'GRAPHQL_PARSE_FAILED');
    return t;
  };
  const expect = (text: string): void => {
    const t = next();
    if (t.text !== text || (t.kind !== 'punct' && t.kind !== 'name')) throw new GraphQlError(`Syntax Error: expected "${text}", found "${t.text}"`, 'GRAPHQL_PARSE_FAILED');
  };
  const value = (): unknown => {
    const t = next();
    if (t.kind === 'var') {
      if (!(t.text in variables)) return null;
      return variables[t.text];
    }
    if (t.kind === 'string') return t.text;
    if (t.kind === 'number') return Number(t.text);
    if (t.kind === 'name') return t.text === 'true' ? true : t.text === 'false' ? false : t.text === 'null' ? null : t.text;
    if (t.text === '[') {
      const list: unknown[] = [];
      while (peek()?.text !== ']') list.push(value());
      next();
      return list;
    }
    if (t.text === '{') {
      const obj: Record<string, unknown> = {};
      while (peek()?.text !== '}') {
        const key = next().text;
        expect(':');
        obj[key] = value();
      }
      next();
      return obj;
    }
    throw new GraphQlError(`Syntax Error: unexpected "${t.text}"`, 'GRAPHQL_PARSE_FAILED');
  };
  const selectionSet = (): Selection[] => {
    expect('{');
    const out: Selection[] = [];
    while (peek()?.text !== '}') {
      const first = next();
      if (first.text === '...') {
        // An inline fragment: its fields join the enclosing set (every emulated object has one type).
        if (peek()?.text !== 'on') throw new GraphQlError('fragment spreads are not supported by the emulator', 'GRAPHQL_PARSE_FAILED');
        next();
        next();
        out.push(...selectionSet());
        continue;
      }
      if (first.kind !== 'name') throw new GraphQlError(`Syntax Error: expected a field, found "${first.text}"`, 'GRAPHQL_PARSE_FAILED');
      let alias = first.text;
      let name = first.text;
      if (peek()?.text === ':') {
        next();
        name = next().text;
      } else {
        alias = name;
      }
      const args: Record<string, unknown> = {};
      if (peek()?.text === '(') {
        next();
        while (peek()?.text !== ')') {
          const arg = next().text;
          expect(':');
          args[arg] = value();
        }
        next();
      }
      if (peek()?.text === '@') throw new GraphQlError('directives are not supported by the emulator', 'GRAPHQL_PARSE_FAILED');
      out.push({ alias, name, args, selections: peek()?.text === '{' ? selectionSet() : undefined });
    }
    next();
    return out;
  };
  let type: 'query' | 'mutation' = 'query';
  const head = peek();
  if (head?.kind === 'name' && (head.text === 'query' || head.text === 'mutation' || head.text === 'subscription')) {
    if (head.text === 'subscription') throw new GraphQlError('subscriptions are not supported by the emulator');
    type = head.text;
    next();
    if (peek()?.kind === 'name') next();
    if (peek()?.text === '(') {
      // Variable definitions: their types are not checked.
      let depth = 0;
      do {
        const t = next();
        if (t.text === '(') depth++;
        if (t.text === ')') depth--;
      } while (depth > 0);
    }
  }
  const selections = selectionSet();
  if (at !== tokens.length) throw new GraphQlError('only one operation per document is supported by the emulator', 'GRAPHQL_PARSE_FAILED');
  return { type, selections };
}

/**
 * Keeps the selected fields of `value` (objects carry their GraphQL type name in `typename`).
 * A selected field the object lacks is an error, as on a real server; a null stays null.
 */
export function project(value: unknown, selections: readonly Selection[] | undefined, typename: string): unknown {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) return value.map((v) => project(v, selections, typename));
  if (selections === undefined || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const s of selections) {
    if (s.name === '__typename') {
      out[s.alias] = typename;
      continue;
    }
    if (!(s.name in obj)) throw new GraphQlError(`Cannot query field "${s.name}" on type "${typename}".`, 'GRAPHQL_VALIDATION_FAILED');
    out[s.alias] = project(obj[s.name], s.selections, `${typename}.${s.name}`);
  }
  return out;
}

/** Answers one root field: its arguments and its selection (for nested arguments and projection). */
type Resolver = (args: Readonly<Record<string, unknown>>, selection: Selection) => unknown;

/** The operations the emulator answers, by root field. */
export interface Operations {
  readonly query: Readonly<Record<string, Resolver>>;
  readonly mutation: Readonly<Record<string, Resolver>>;
}

/** The JSON answer (HTTP 200) to one authenticated POST /graphql body. */
export function executeGraphql(body: unknown, operations: Operations): unknown {
  const fields = isRecord(body) ? body : {};
  try {
    if (typeof fields.query !== 'string') throw new GraphQlError('Must provide query string.', 'BAD_REQUEST');
    const op = parseOperation(fields.query, isRecord(fields.variables) ? fields.variables : {});
    const root = op.type === 'query' ? 'Query' : 'Mutation';
    const table = operations[op.type];
    const data: Record<string, unknown> = {};
    for (const sel of op.selections) {
      if (sel.name === '__typename') {
        data[sel.alias] = root;
        continue;
      }
      const resolve = Object.hasOwn(table, sel.name) ? table[sel.name] : undefined;
      if (!resolve) throw new GraphQlError(`Cannot query field "${sel.name}" on type "${root}".`, 'GRAPHQL_VALIDATION_FAILED');
      data[sel.alias] = resolve(sel.args, sel);
    }
    return { data };
  } catch (err) {
    if (!(err instanceof GraphQlError)) throw err;
    return { errors: [{ message: err.message, ...(err.code ? { extensions: { code: err.code } } : {}) }], data: null };
  }
}
