// A small OData $filter evaluator: comparisons (eq ne gt ge lt le) on the documented fields, combined with
// and/or/not and parentheses. String comparisons ignore case, like the SQL collation behind the API.

export class ODataError extends Error {}

type Node =
  | { kind: 'cmp'; field: string; op: string; value: string | number | boolean | null; date: boolean }
  | { kind: 'and' | 'or'; left: Node; right: Node }
  | { kind: 'not'; inner: Node };

const FILTERABLE = [
  'application',
  'createdByDisplayName',
  'expirationTime',
  'generateAlert',
  'title',
  'rbacGroupNames',
  'rbacGroupIds',
  'indicatorValue',
  'indicatorType',
  'creationTimeDateTimeUtc',
  'createdBy',
  'action',
  'severity',
];
const DATE_FIELDS = new Set(['expirationTime', 'creationTimeDateTimeUtc']);

/** The filterable properties of one entity set and which of them are dates. */
export interface FilterSchema {
  readonly entity: string;
  readonly fields: readonly string[];
  readonly dateFields: ReadonlySet<string>;
}

const INDICATOR_FILTERS: FilterSchema = { entity: 'Indicator', fields: FILTERABLE, dateFields: DATE_FIELDS };

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ') {
      i += 1;
      continue;
    }
    if (c === '(' || c === ')') {
      tokens.push(c);
      i += 1;
      continue;
    }
    if (c === "'") {
      let j = i + 1;
      let value = '';
      for (;;) {
        if (j >= text.length) throw new ODataError(`Syntax error: unterminated string literal at position ${i} in '${text}'.`);
        if (text[j] === "'") {
          if (text[j + 1] === "'") {
            value += "'";
            j += 2;
            continue;
          }
          break;
        }
        value += text[j];
        j += 1;
      }
      tokens.push(`'${value}`);
      i = j + 1;
      continue;
    }
    let j = i;
    while (j < text.length && !" ()'".includes(text[j]!)) j += 1;
    tokens.push(text.slice(i, j));
    i = j;
  }
  return tokens;
}

export function parseFilter(text: string, schema: FilterSchema = INDICATOR_FILTERS): Node {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = (): string | undefined => tokens[pos];
  const next = (): string => {
    const t = tokens[pos];
    if (t === undefined) throw new ODataError(`Syntax error: unexpected end of '$filter' expression '${text}'.`);
    pos += 1;
    return t;
  };
  const primary = (): Node => {
    const t = next();
    if (t === '(') {
      const inner = or();
      if (next() !== ')') throw new ODataError(`Syntax error: ')' expected in '${text}'.`);
      return inner;
    }
    if (t === 'not') return { kind: 'not', inner: primary() };
    if (!schema.fields.includes(t)) throw new ODataError(`Could not find a property named '${t}' on type '${schema.entity}' or it is not filterable.`);
    const op = next();
    if (!['eq', 'ne', 'gt', 'ge', 'lt', 'le'].includes(op)) throw new ODataError(`Syntax error: unknown operator '${op}' in '${text}'.`);
    const raw = next();
    let value: string | number | boolean | null;
    if (raw.startsWith("'")) value = raw.slice(1);
    else if (raw === 'true' || raw === 'false') value = raw === 'true';
    else if (raw === 'null') value = null;
    else if (schema.dateFields.has(t) && !Number.isNaN(Date.parse(raw))) value = raw;
    else if (!Number.isNaN(Number(raw))) value = Number(raw);
    else throw new ODataError(`Syntax error: invalid literal '${raw}' in '${text}'.`);
    return { kind: 'cmp', field: t, op, value, date: schema.dateFields.has(t) };
  };
  const and = (): Node => {
    let left = primary();
    while (peek() === 'and') {
      pos += 1;
      left = { kind: 'and', left, right: primary() };
    }
    return left;
  };
  const or = (): Node => {
    let left = and();
    while (peek() === 'or') {
      pos += 1;
      left = { kind: 'or', left, right: and() };
    }
    return left;
  };
  const tree = or();
  if (pos !== tokens.length) throw new ODataError(`Syntax error at '${tokens[pos]!}' in '${text}'.`);
  return tree;
}

function compare(actual: unknown, op: string, expected: string | number | boolean | null, isDate: boolean): boolean {
  if (Array.isArray(actual)) return op === 'ne' ? actual.every((a) => compare(a, op, expected, isDate)) : actual.some((a) => compare(a, op, expected, isDate));
  let a: unknown = actual;
  let e: unknown = expected;
  if (isDate && typeof a === 'string' && typeof e === 'string') {
    a = Date.parse(a);
    e = Date.parse(e);
  } else if (typeof a === 'string' && typeof e === 'string') {
    a = a.toLowerCase();
    e = e.toLowerCase();
  }
  switch (op) {
    case 'eq':
      return a === e || (a == null && e == null);
    case 'ne':
      return !(a === e || (a == null && e == null));
    case 'gt':
      return (a as number) > (e as number);
    case 'ge':
      return (a as number) >= (e as number);
    case 'lt':
      return (a as number) < (e as number);
    default:
      return (a as number) <= (e as number);
  }
}

export function evaluate(node: Node, row: Record<string, unknown>): boolean {
  switch (node.kind) {
    case 'and':
      return evaluate(node.left, row) && evaluate(node.right, row);
    case 'or':
      return evaluate(node.left, row) || evaluate(node.right, row);
    case 'not':
      return !evaluate(node.inner, row);
    default:
      return compare(row[node.field], node.op, node.value, node.date);
  }
}
