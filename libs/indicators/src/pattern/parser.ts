// Recursive-descent parser for STIX 2.1 patterns. Precedence, tightest first:
// comparison AND > comparison OR (inside brackets); qualifiers > observation AND > OR > FOLLOWEDBY.
import type { ComparisonExpression, ComparisonOperator, Literal, ObjectPath, ObservationExpression, PathStep, Pattern, Qualifier } from './ast.ts';
import { describe, PatternSyntaxError, tokenize, type Token } from './lexer.ts';

export { PatternSyntaxError } from './lexer.ts';

export type ParseResult =
  | { readonly ok: true; readonly pattern: Pattern }
  | { readonly ok: false; readonly error: PatternSyntaxError };

/** Parses a STIX 2.1 pattern. Never throws: syntax errors come back with their position. */
export function parsePattern(src: string): ParseResult {
  try {
    return { ok: true, pattern: new Parser(tokenize(src)).parse() };
  } catch (err) {
    if (err instanceof PatternSyntaxError) return { ok: false, error: err };
    throw err;
  }
}

const COMPARISON_KEYWORDS = new Set(['IN', 'LIKE', 'MATCHES', 'ISSUBSET', 'ISSUPERSET']);

class Parser {
  private readonly tokens: Token[];
  private i = 0;

  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }

  parse(): Pattern {
    const expr = this.observationExpressions();
    this.expect('eof', undefined, ['AND', 'OR', 'FOLLOWEDBY', 'a qualifier', 'end of pattern']);
    return expr;
  }

  private peek(): Token {
    return this.tokens[this.i] as Token;
  }

  private next(): Token {
    return this.tokens[this.i++] as Token;
  }

  private at(kind: Token['kind'], text?: string): boolean {
    const t = this.peek();
    return t.kind === kind && (text === undefined || t.text === text);
  }

  private accept(kind: Token['kind'], text?: string): Token | undefined {
    return this.at(kind, text) ? this.next() : undefined;
  }

  private expect(kind: Token['kind'], text: string | undefined, expected: readonly string[]): Token {
    const t = this.accept(kind, text);
    if (t === undefined) throw this.error(expected);
    return t;
  }

  private error(expected: readonly string[], hint?: string): PatternSyntaxError {
    const t = this.peek();
    return new PatternSyntaxError(t.pos, expected, describe(t), hint);
  }

  private observationExpressions(): ObservationExpression {
    let left = this.observationOr();
    while (this.accept('keyword', 'FOLLOWEDBY')) {
      left = { kind: 'followedBy', left, right: this.observationOr(), pos: left.pos };
    }
    return left;
  }

  private observationOr(): ObservationExpression {
    let left = this.observationAnd();
    while (this.accept('keyword', 'OR')) left = { kind: 'or', left, right: this.observationAnd(), pos: left.pos };
    return left;
  }

  private observationAnd(): ObservationExpression {
    let left = this.qualifiedObservation();
    while (this.accept('keyword', 'AND')) left = { kind: 'and', left, right: this.qualifiedObservation(), pos: left.pos };
    return left;
  }

  private qualifiedObservation(): ObservationExpression {
    let expr = this.observationPrimary();
    for (let q = this.qualifier(); q !== undefined; q = this.qualifier()) {
      expr = { kind: 'qualified', expression: expr, qualifier: q, pos: expr.pos };
    }
    return expr;
  }

  private observationPrimary(): ObservationExpression {
    const open = this.accept('punct', '[');
    if (open) {
      const comparison = this.comparisonOr();
      this.expect('punct', ']', ["']'", 'AND', 'OR']);
      return { kind: 'observation', comparison, pos: open.pos };
    }
    if (this.accept('punct', '(')) {
      const inner = this.observationExpressions();
      this.expect('punct', ')', ["')'", 'AND', 'OR', 'FOLLOWEDBY']);
      return inner;
    }
    throw this.error(["'['", "'('"]);
  }

  private qualifier(): Qualifier | undefined {
    const t = this.peek();
    if (t.kind !== 'keyword') return undefined;
    if (t.text === 'WITHIN') {
      this.next();
      const n = this.peek();
      if ((n.kind !== 'int' && n.kind !== 'float') || Number(n.text) <= 0) throw this.error(['a positive number of seconds']);
      this.next();
      this.expect('keyword', 'SECONDS', ['SECONDS']);
      return { kind: 'within', seconds: Number(n.text), pos: t.pos };
    }
    if (t.text === 'REPEATS') {
      this.next();
      const n = this.peek();
      if (n.kind !== 'int' || Number(n.text) <= 0) throw this.error(['a positive integer']);
      this.next();
      this.expect('keyword', 'TIMES', ['TIMES']);
      return { kind: 'repeats', times: Number(n.text), pos: t.pos };
    }
    if (t.text === 'START') {
      this.next();
      const start = this.expect('timestamp', undefined, ["timestamp t'…'"]);
      this.expect('keyword', 'STOP', ['STOP']);
      const stop = this.expect('timestamp', undefined, ["timestamp t'…'"]);
      return { kind: 'startStop', start: start.text, stop: stop.text, pos: t.pos };
    }
    return undefined;
  }

  private comparisonOr(): ComparisonExpression {
    let left = this.comparisonAnd();
    while (this.accept('keyword', 'OR')) left = { kind: 'or', left, right: this.comparisonAnd(), pos: left.pos };
    return left;
  }

  private comparisonAnd(): ComparisonExpression {
    let left = this.propTest();
    while (this.accept('keyword', 'AND')) left = { kind: 'and', left, right: this.propTest(), pos: left.pos };
    return left;
  }

  private propTest(): ComparisonExpression {
    if (this.accept('punct', '(')) {
      const inner = this.comparisonOr();
      this.expect('punct', ')', ["')'", 'AND', 'OR']);
      return inner;
    }
    const exists = this.accept('keyword', 'EXISTS');
    if (exists) return { kind: 'exists', path: this.objectPath(), pos: exists.pos };
    if (!this.at('identifier')) throw this.error(['object path', 'EXISTS', "'('"]);
    const path = this.objectPath();
    const negated = this.accept('keyword', 'NOT') !== undefined;
    const op = this.peek();
    let operator: ComparisonOperator;
    if (op.kind === 'operator') operator = op.text as ComparisonOperator;
    else if (op.kind === 'keyword' && COMPARISON_KEYWORDS.has(op.text)) operator = op.text as ComparisonOperator;
    else throw this.error(['comparison operator (= != < <= > >= IN LIKE MATCHES ISSUBSET ISSUPERSET)']);
    this.next();
    let value: Literal | Literal[];
    switch (operator) {
      case '=':
      case '!=':
        value = this.literal(true);
        break;
      case '<': case '<=': case '>': case '>=':
        value = this.literal(false);
        break;
      case 'IN':
        value = this.setLiteral();
        break;
      default: {
        const s = this.expect('string', undefined, [`string literal after ${operator}`]);
        value = { kind: 'string', value: s.text, pos: s.pos };
      }
    }
    return { kind: 'comparison', path, operator, negated, value, pos: path.pos };
  }

  private setLiteral(): Literal[] {
    this.expect('punct', '(', ["'(' opening the IN set"]);
    const items: Literal[] = [];
    if (this.accept('punct', ')')) return items;
    do items.push(this.literal(true));
    while (this.accept('punct', ','));
    this.expect('punct', ')', ["','", "')'"]);
    return items;
  }

  private literal(allowBool: boolean): Literal {
    const t = this.peek();
    switch (t.kind) {
      case 'string': case 'hex': case 'binary': case 'timestamp':
        this.next();
        return { kind: t.kind, value: t.text, pos: t.pos };
      case 'int': case 'float':
        this.next();
        return { kind: t.kind, value: Number(t.text), pos: t.pos };
      case 'bool':
        if (!allowBool) throw this.error(['orderable literal (string, number, hex, binary, timestamp)'], 'booleans are not ordered');
        this.next();
        return { kind: 'bool', value: t.text === 'true', pos: t.pos };
      default:
        throw this.error(['literal']);
    }
  }

  private objectPath(): ObjectPath {
    const type = this.expect('identifier', undefined, ['object type (e.g. file, ipv4-addr)']);
    this.expect('punct', ':', ["':' after the object type"]);
    const steps: PathStep[] = [{ kind: 'property', name: this.propertyName() }];
    for (;;) {
      if (this.accept('punct', '.')) {
        steps.push({ kind: 'property', name: this.propertyName() });
      } else if (this.at('punct', '[') && this.isIndexAhead()) {
        this.next();
        if (this.accept('punct', '*')) steps.push({ kind: 'index', index: '*' });
        else steps.push({ kind: 'index', index: Number(this.expect('int', undefined, ["list index or '*'"]).text) });
        this.expect('punct', ']', ["']' closing the list index"]);
      } else {
        return { objectType: type.text, steps, pos: type.pos };
      }
    }
  }

  // `[` after a path is a list index only when followed by `*` or an integer and `]`;
  // anything else is a syntax error reported at the index.
  private isIndexAhead(): boolean {
    const t = this.tokens[this.i + 1];
    return t !== undefined && ((t.kind === 'punct' && t.text === '*') || t.kind === 'int');
  }

  private propertyName(): string {
    const t = this.peek();
    // The spec allows identifiers without hyphens or quoted names; unquoted hyphenated names
    // (`hashes.SHA-256`) are a common variant that the tokenizer reads as one identifier.
    if (t.kind === 'identifier' || t.kind === 'string') {
      this.next();
      return t.text;
    }
    if (t.kind === 'keyword' || t.kind === 'bool') {
      this.next(); // a property may be named like a keyword (e.g. `x:START`)
      return t.text;
    }
    throw this.error(['property name']);
  }
}
