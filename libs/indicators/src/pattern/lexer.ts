// Hand-written tokenizer for STIX 2.1 patterns (grammar: STIX 2.1 part 9 and its ANTLR grammar).

type TokenKind =
  | 'keyword' // AND OR NOT FOLLOWEDBY LIKE MATCHES ISSUBSET ISSUPERSET EXISTS IN START STOP SECONDS WITHIN REPEATS TIMES LAST
  | 'identifier'
  | 'string'
  | 'int'
  | 'float'
  | 'bool'
  | 'hex'
  | 'binary'
  | 'timestamp'
  | 'punct' // [ ] ( ) : . , *
  | 'operator' // = != < <= > >=
  | 'eof';

export interface Token {
  readonly kind: TokenKind;
  /** Keyword/operator/punct text, identifier name, or the decoded literal text. */
  readonly text: string;
  readonly pos: number;
  /** Length of the token in the source. */
  readonly length: number;
}

/** A syntax error with the 0-based offset where it was detected and what would have been valid there. */
export class PatternSyntaxError extends Error {
  readonly position: number;
  readonly expected: readonly string[];
  readonly found: string;

  constructor(position: number, expected: readonly string[], found: string, hint?: string) {
    const want = expected.length === 0 ? '' : `expected ${expected.join(' or ')} but `;
    super(`at position ${position}: ${want}found ${found}${hint === undefined ? '' : ` (${hint})`}`);
    this.name = 'PatternSyntaxError';
    this.position = position;
    this.expected = expected;
    this.found = found;
  }
}

const KEYWORDS = new Set([
  'AND',
  'OR',
  'NOT',
  'FOLLOWEDBY',
  'LIKE',
  'MATCHES',
  'ISSUPERSET',
  'ISSUBSET',
  'EXISTS',
  'LAST',
  'IN',
  'START',
  'STOP',
  'SECONDS',
  'WITHIN',
  'REPEATS',
  'TIMES',
]);

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isIdentStart = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isIdentPart = (c: number): boolean => isIdentStart(c) || isDigit(c) || c === 45;
const isHex = (c: number): boolean => isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
const isBase64 = (c: number): boolean => (isIdentStart(c) && c !== 95) || isDigit(c) || c === 43 || c === 47 || c === 61;
// STIX 2.1 BinaryLiteral: one or more groups of 4, the last one may end in `=` or `==` (RFC 4648 padding).
function isPaddedBase64(body: string): boolean {
  if (body.length === 0 || body.length % 4 !== 0) return false;
  const pad = body.endsWith('==') ? 2 : body.endsWith('=') ? 1 : 0;
  return pad === 0 ? !body.includes('=') : body.indexOf('=') === body.length - pad;
}
const isSpace = (c: number): boolean => c === 32 || c === 9 || c === 10 || c === 13 || c === 12;

// RFC 3339 as the STIX grammar allows it in t'…': UTC only, optional fraction.
function isTimestamp(s: string): boolean {
  if (s.length < 20 || s[s.length - 1] !== 'Z') return false;
  const shape = 'dddd-dd-ddTdd:dd:dd';
  for (let i = 0; i < shape.length; i++) {
    const want = shape[i];
    const c = s.charCodeAt(i);
    if (want === 'd' ? !isDigit(c) : s[i] !== want) return false;
  }
  const rest = s.slice(19, -1);
  if (rest.length > 0) {
    if (rest[0] !== '.' || rest.length < 2) return false;
    for (let i = 1; i < rest.length; i++) if (!isDigit(rest.charCodeAt(i))) return false;
  }
  return !Number.isNaN(Date.parse(s));
}

// Error messages quote at most this much of a token (a literal may be megabytes long).
const MAX_QUOTED = 64;
const quote = (text: string): string => (text.length <= MAX_QUOTED ? text : `${text.slice(0, MAX_QUOTED - 1)}…`);

/** Describes a token for error messages. */
export function describe(t: Token): string {
  switch (t.kind) {
    case 'eof':
      return 'end of pattern';
    case 'string':
      return `string '${quote(t.text)}'`;
    case 'identifier':
      return `identifier '${quote(t.text)}'`;
    case 'keyword':
      return t.text;
    default:
      return `'${quote(t.text)}'`;
  }
}

export function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  const n = src.length;
  let i = 0;
  while (i < n) {
    const c = src.charCodeAt(i);
    if (isSpace(c)) {
      i++;
      continue;
    }
    const start = i;
    const ch = src[i] as string;

    // Prefixed literals h'…', b'…', t'…' (the prefix letter must touch the quote).
    if ((ch === 'h' || ch === 'b' || ch === 't') && src.charCodeAt(i + 1) === 39) {
      const close = src.indexOf("'", i + 2);
      if (close < 0) throw new PatternSyntaxError(start, ["closing '"], 'end of pattern', 'unterminated literal');
      const body = src.slice(i + 2, close);
      if (ch === 'h') {
        for (let k = 0; k < body.length; k++) {
          if (!isHex(body.charCodeAt(k))) throw new PatternSyntaxError(i + 2 + k, ['hex digit'], `'${body[k]}'`);
        }
        if (body.length % 2 !== 0) throw new PatternSyntaxError(close, ['an even number of hex digits'], `${body.length} digits`);
        tokens.push({ kind: 'hex', text: body.toLowerCase(), pos: start, length: close + 1 - start });
      } else if (ch === 'b') {
        for (let k = 0; k < body.length; k++) {
          if (!isBase64(body.charCodeAt(k))) throw new PatternSyntaxError(i + 2 + k, ['base64 character'], `'${body[k]}'`);
        }
        if (!isPaddedBase64(body)) {
          throw new PatternSyntaxError(start, ['base64 in groups of 4 characters, padded with = or =='], `b'${quote(body)}'`);
        }
        tokens.push({ kind: 'binary', text: body, pos: start, length: close + 1 - start });
      } else {
        if (!isTimestamp(body)) {
          throw new PatternSyntaxError(i + 2, ['RFC 3339 UTC timestamp (YYYY-MM-DDTHH:MM:SS[.s]Z)'], `'${quote(body)}'`);
        }
        tokens.push({ kind: 'timestamp', text: body, pos: start, length: close + 1 - start });
      }
      i = close + 1;
      continue;
    }

    if (c === 39) { // string literal; only \' and \\ are escapes
      let out = '';
      let k = i + 1;
      let segment = k;
      for (;;) {
        if (k >= n) throw new PatternSyntaxError(start, ["closing '"], 'end of pattern', 'unterminated string');
        const d = src.charCodeAt(k);
        if (d === 39) break;
        if (d === 92) {
          const e = src.charCodeAt(k + 1);
          if (e !== 39 && e !== 92) {
            throw new PatternSyntaxError(k, ["\\' or \\\\"], k + 1 < n ? `'\\${src[k + 1]}'` : 'end of pattern', 'invalid escape');
          }
          out += src.slice(segment, k) + (e === 39 ? "'" : '\\');
          k += 2;
          segment = k;
          continue;
        }
        k++;
      }
      out += src.slice(segment, k);
      tokens.push({ kind: 'string', text: out, pos: start, length: k + 1 - start });
      i = k + 1;
      continue;
    }

    if (isIdentStart(c)) {
      let k = i + 1;
      while (k < n && isIdentPart(src.charCodeAt(k))) k++;
      const word = src.slice(i, k);
      if (KEYWORDS.has(word)) tokens.push({ kind: 'keyword', text: word, pos: start, length: k - start });
      else if (word === 'true' || word === 'false') tokens.push({ kind: 'bool', text: word, pos: start, length: k - start });
      else tokens.push({ kind: 'identifier', text: word, pos: start, length: k - start });
      i = k;
      continue;
    }

    const next = src.charCodeAt(i + 1);
    const signed = (c === 43 || c === 45) && (isDigit(next) || (next === 46 && isDigit(src.charCodeAt(i + 2))));
    if (isDigit(c) || signed || (c === 46 && isDigit(next))) {
      let k = i;
      if (c === 43 || c === 45) k++;
      const intStart = k;
      while (k < n && isDigit(src.charCodeAt(k))) k++;
      let isFloat = false;
      if (src.charCodeAt(k) === 46) {
        isFloat = true;
        k++;
        const fracStart = k;
        while (k < n && isDigit(src.charCodeAt(k))) k++;
        if (k === fracStart) throw new PatternSyntaxError(k, ['digit'], k < n ? `'${src[k]}'` : 'end of pattern', 'incomplete float');
      } else if (src.charCodeAt(intStart) === 48 && k - intStart > 1) {
        throw new PatternSyntaxError(intStart, [], `'${quote(src.slice(start, k))}'`, 'integers may not have leading zeros');
      }
      const text = src.slice(start, k);
      tokens.push({ kind: isFloat ? 'float' : 'int', text, pos: start, length: k - start });
      i = k;
      continue;
    }

    const two = src.slice(i, i + 2);
    if (two === '!=' || two === '<>' || two === '<=' || two === '>=' || two === '==') {
      tokens.push({ kind: 'operator', text: two === '<>' ? '!=' : two === '==' ? '=' : two, pos: start, length: 2 });
      i += 2;
      continue;
    }
    if (ch === '=' || ch === '<' || ch === '>') {
      tokens.push({ kind: 'operator', text: ch, pos: start, length: 1 });
      i++;
      continue;
    }
    if ('[]():.,*'.includes(ch)) {
      tokens.push({ kind: 'punct', text: ch, pos: start, length: 1 });
      i++;
      continue;
    }
    throw new PatternSyntaxError(start, [], `unexpected character '${ch}'`);
  }
  tokens.push({ kind: 'eof', text: '', pos: n, length: 0 });
  return tokens;
}
