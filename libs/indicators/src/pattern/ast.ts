// Typed AST of a STIX 2.1 pattern (STIX 2.1 specification, part 9 "STIX Patterning").
// Every node carries `pos`, the 0-based offset of its first character in the source.

export type Literal =
  | { readonly kind: 'string'; readonly value: string; readonly pos: number }
  | { readonly kind: 'int'; readonly value: number; readonly pos: number }
  | { readonly kind: 'float'; readonly value: number; readonly pos: number }
  | { readonly kind: 'bool'; readonly value: boolean; readonly pos: number }
  /** Hex literal `h'ff00'`: `value` is the hex digits, lower-case. */
  | { readonly kind: 'hex'; readonly value: string; readonly pos: number }
  /** Binary literal `b'AQID'`: `value` is the base64 text. */
  | { readonly kind: 'binary'; readonly value: string; readonly pos: number }
  /** Timestamp literal `t'2016-01-01T00:00:00Z'`: `value` is the RFC 3339 text. */
  | { readonly kind: 'timestamp'; readonly value: string; readonly pos: number };

export type PathStep =
  | { readonly kind: 'property'; readonly name: string }
  /** `[*]` is `'*'`; `[0]`, `[-1]` are numbers. */
  | { readonly kind: 'index'; readonly index: number | '*' };

export interface ObjectPath {
  readonly objectType: string;
  /** The first step is always a property (`value` in `ipv4-addr:value`). */
  readonly steps: readonly PathStep[];
  readonly pos: number;
}

export type ComparisonOperator = '=' | '!=' | '>' | '<' | '>=' | '<=' | 'IN' | 'LIKE' | 'MATCHES' | 'ISSUBSET' | 'ISSUPERSET';

export type ComparisonExpression =
  | {
    readonly kind: 'comparison';
    readonly path: ObjectPath;
    readonly operator: ComparisonOperator;
    readonly negated: boolean;
    /** An array only for IN. */
    readonly value: Literal | readonly Literal[];
    readonly pos: number;
  }
  | { readonly kind: 'exists'; readonly path: ObjectPath; readonly pos: number }
  | {
    readonly kind: 'and' | 'or';
    readonly left: ComparisonExpression;
    readonly right: ComparisonExpression;
    readonly pos: number;
  };

export type Qualifier =
  | { readonly kind: 'within'; readonly seconds: number; readonly pos: number }
  | { readonly kind: 'repeats'; readonly times: number; readonly pos: number }
  | { readonly kind: 'startStop'; readonly start: string; readonly stop: string; readonly pos: number };

export type ObservationExpression =
  | { readonly kind: 'observation'; readonly comparison: ComparisonExpression; readonly pos: number }
  | {
    readonly kind: 'and' | 'or' | 'followedBy';
    readonly left: ObservationExpression;
    readonly right: ObservationExpression;
    readonly pos: number;
  }
  | {
    readonly kind: 'qualified';
    readonly expression: ObservationExpression;
    readonly qualifier: Qualifier;
    readonly pos: number;
  };

export type Pattern = ObservationExpression;
