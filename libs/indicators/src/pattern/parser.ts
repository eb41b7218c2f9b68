// Parser for STIX 2.1 patterns, without recursion (see `parse`). Precedence, tightest first:
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

interface Operator {
  readonly op: 'and' | 'or' | 'followedBy';
  /** Higher binds tighter; all operators are left-associative. */
  readonly precedence: number;
}
const OBS_OPERATORS: Readonly<Record<string, Operator>> = {
  FOLLOWEDBY: { op: 'followedBy', precedence: 1 },
  OR: { op: 'or', precedence: 2 },
  AND: { op: 'and', precedence: 3 },
};
const CMP_OPERATORS: Readonly<Record<string, Operator>> = { OR: { op: 'or', precedence: 1 }, AND: { op: 'and', precedence: 2 } };
/** How each qualifier kind is written, for messages. */
export const QUALIFIER_NAMES = { within: 'WITHIN', repeats: 'REPEATS', startStop: 'START/STOP' } as const;

interface OpenEntry {
  readonly kind: 'open';
  /** `[` of an observation, `(` of an observation group, `(` of a comparison group. */
  readonly group: 'bracket' | 'observation' | 'comparison';
  readonly pos: number;
}
type StackEntry = OpenEntry | ({ readonly kind: 'obs' | 'cmp' } & Operator);

class Parser {
  private readonly tokens: Token[];
  private i = 0;

  constructor(tokens: Token[]) {
    this.tokens = tokens;
  }

  /**
   * Shunting-yard over both levels with explicit stacks, so nesting depth and the length of operator
   * chains are bounded by memory, not by the call stack. Observation level: `[` opens a comparison,
   * `(` a group; binary operators FOLLOWEDBY < OR < AND, qualifiers bind to the operand before them.
   * Inside brackets: OR < AND, `(` groups comparisons.
   */
  parse(): Pattern {
    const observations: ObservationExpression[] = [];
    const comparisons: ComparisonExpression[] = [];
    const stack: StackEntry[] = [];
    let inBracket = false;
    let expectOperand = true;
    // Qualifier kinds applied directly to the last simple observation (undefined after a group).
    let qualifierKinds: Set<Qualifier['kind']> | undefined;

    const reduce = (level: 'obs' | 'cmp', minPrecedence: number): void => {
      for (let top = stack.at(-1); top?.kind === level && top.precedence >= minPrecedence; top = stack.at(-1)) {
        stack.pop();
        if (level === 'obs') {
          const right = observations.pop() as ObservationExpression;
          const left = observations.pop() as ObservationExpression;
          observations.push({ kind: top.op, left, right, pos: left.pos });
        } else {
          const right = comparisons.pop() as ComparisonExpression;
          const left = comparisons.pop() as ComparisonExpression;
          comparisons.push({ kind: top.op as 'and' | 'or', left, right, pos: left.pos });
        }
      }
    };
    // Consumes a binary operator of the level, if one is next; otherwise reduces the level's
    // pending operators, so that the operand stack holds the group's single result.
    const binaryOperator = (level: 'obs' | 'cmp'): boolean => {
      const t = this.peek();
      const op = t.kind === 'keyword' ? (level === 'obs' ? OBS_OPERATORS : CMP_OPERATORS)[t.text] : undefined;
      if (op === undefined) {
        reduce(level, 0);
        return false;
      }
      this.next();
      reduce(level, op.precedence);
      stack.push({ kind: level, ...op });
      expectOperand = true;
      return true;
    };
    const innermostOpen = (): OpenEntry | undefined => {
      const top = stack.at(-1);
      return top?.kind === 'open' ? top : undefined;
    };

    for (;;) {
      const t = this.peek();
      if (inBracket) {
        if (expectOperand) {
          if (this.accept('punct', '(')) stack.push({ kind: 'open', group: 'comparison', pos: t.pos });
          else {
            comparisons.push(this.propTest());
            expectOperand = false;
          }
          continue;
        }
        if (binaryOperator('cmp')) continue;
        const open = innermostOpen() as OpenEntry; // inside brackets there is always one
        if (open.group === 'comparison' && this.accept('punct', ')')) {
          stack.pop();
          continue;
        }
        if (open.group === 'bracket' && this.accept('punct', ']')) {
          stack.pop();
          observations.push({ kind: 'observation', comparison: comparisons.pop() as ComparisonExpression, pos: open.pos });
          inBracket = false;
          qualifierKinds = new Set();
          continue;
        }
        throw this.error([open.group === 'bracket' ? "']'" : "')'", 'AND', 'OR']);
      }

      if (expectOperand) {
        if (this.accept('punct', '[')) {
          stack.push({ kind: 'open', group: 'bracket', pos: t.pos });
          inBracket = true;
        } else if (this.accept('punct', '(')) {
          stack.push({ kind: 'open', group: 'observation', pos: t.pos });
        } else {
          throw this.error(["'['", "'('"]);
        }
        continue;
      }
      const q = this.qualifier();
      if (q !== undefined) {
        if (qualifierKinds !== undefined) {
          // STIX 2.1 (and its reference validator): one qualifier of each kind on a simple observation.
          if (qualifierKinds.has(q.kind)) {
            throw new PatternSyntaxError(q.pos, [], `a second ${QUALIFIER_NAMES[q.kind]} qualifier`, 'STIX 2.1 allows each qualifier kind once per observation');
          }
          qualifierKinds.add(q.kind);
        }
        const expression = observations.pop() as ObservationExpression;
        observations.push({ kind: 'qualified', expression, qualifier: q, pos: expression.pos });
        continue;
      }
      if (binaryOperator('obs')) continue;
      const open = innermostOpen();
      if (open !== undefined && this.accept('punct', ')')) {
        stack.pop();
        qualifierKinds = undefined;
        continue;
      }
      if (open === undefined && this.at('eof')) return observations[0] as ObservationExpression;
      throw this.error(
        open === undefined
          ? ['AND', 'OR', 'FOLLOWEDBY', 'a qualifier', 'end of pattern']
          : ["')'", 'AND', 'OR', 'FOLLOWEDBY', 'a qualifier'],
      );
    }
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

  /** One comparison (no parentheses: `parse` handles those). */
  private propTest(): ComparisonExpression {
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
      case '<':
      case '<=':
      case '>':
      case '>=':
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
    do items.push(this.literal(true)); while (this.accept('punct', ','));
    this.expect('punct', ')', ["','", "')'"]);
    return items;
  }

  private literal(allowBool: boolean): Literal {
    const t = this.peek();
    switch (t.kind) {
      case 'string':
      case 'hex':
      case 'binary':
      case 'timestamp':
        this.next();
        return { kind: t.kind, value: t.text, pos: t.pos };
      case 'int':
      case 'float':
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
