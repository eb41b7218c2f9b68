// What of a STIX pattern Defender can represent: `=` and `IN` comparisons on single values. OR branches are
// independent detections, so each representable branch is kept and each other branch is reported.
import type { DefenderIndicatorType } from '../types.ts';
import type { ComparisonExpression, Literal, ObservationExpression, Pattern } from './ast.ts';
import { QUALIFIER_NAMES } from './parser.ts';

export interface ExtractedValue {
  readonly type: DefenderIndicatorType;
  /** The literal as written in the pattern; canonicalization happens later. */
  readonly raw: string;
}

export interface ExtractionProblem {
  readonly reason: 'unsupported_pattern' | 'unsupported_type';
  readonly detail: string;
}

export interface Extraction {
  readonly values: ExtractedValue[];
  readonly problems: ExtractionProblem[];
}

type Leaf =
  | { readonly kind: 'value'; readonly objectType: string; readonly type: DefenderIndicatorType; readonly raw: string; readonly strength: number }
  | { readonly kind: 'otherHash'; readonly objectType: string; readonly algorithm: string }
  | { readonly kind: 'problem'; readonly problem: ExtractionProblem };

const unsupported = (detail: string): ExtractionProblem => ({ reason: 'unsupported_pattern', detail });
const unsupportedType = (detail: string): ExtractionProblem => ({ reason: 'unsupported_type', detail });

/** `SHA-256`, `sha256`, `SHA_256` → `SHA256`. */
export function normalizeHashAlgorithm(name: string): string {
  return name.toUpperCase().replaceAll('-', '').replaceAll('_', '');
}

// Strength orders the hashes of one file: SHA-256 > SHA-1 > MD5 (Defender: the stronger hash wins).
const FILE_HASHES: Readonly<Record<string, { type: DefenderIndicatorType; strength: number }>> = {
  SHA256: { type: 'FileSha256', strength: 3 },
  SHA1: { type: 'FileSha1', strength: 2 },
  MD5: { type: 'FileMd5', strength: 1 },
};

const VALUE_TYPES: Readonly<Record<string, DefenderIndicatorType>> = {
  'ipv4-addr': 'IpAddress',
  'ipv6-addr': 'IpAddress',
  'domain-name': 'DomainName',
  hostname: 'DomainName', // OpenCTI's custom Hostname SCO
  url: 'Url',
};

type Comparison = ComparisonExpression & { kind: 'comparison' };

const problem = (p: ExtractionProblem): Leaf => ({ kind: 'problem', problem: p });

/** What one literal compared with `=` on this path is for Defender. */
function classifyLiteral(c: Comparison, objectType: string, props: readonly string[], lit: Literal): Leaf {
  const pathText = `${objectType}:${props.join('.')}`;
  const isHashPath = props.length === 2 && props[0]?.toLowerCase() === 'hashes';
  const literal = lit.kind === 'string' || (lit.kind === 'hex' && isHashPath) ? String(lit.value) : undefined;

  const valueType = VALUE_TYPES[objectType];
  if (valueType !== undefined) {
    if (props.length !== 1 || props[0] !== 'value') return problem(unsupported(`${pathText} not supported`));
    if (literal === undefined) return problem(unsupported(`non-string literal compared with ${pathText}`));
    return { kind: 'value', objectType, type: valueType, raw: literal, strength: 0 };
  }
  if (objectType === 'file' || objectType === 'x509-certificate') {
    if (!isHashPath) return problem(unsupported(`${pathText} not supported`));
    if (literal === undefined) return problem(unsupported(`non-string literal compared with ${pathText}`));
    const algorithm = normalizeHashAlgorithm(props[1] as string);
    if (objectType === 'x509-certificate') {
      // Defender's CertificateThumbprint is the SHA-1 thumbprint Windows shows.
      return algorithm === 'SHA1'
        ? { kind: 'value', objectType, type: 'CertificateThumbprint', raw: literal, strength: 1 }
        : { kind: 'otherHash', objectType, algorithm: props[1] as string };
    }
    const known = FILE_HASHES[algorithm];
    return known === undefined
      ? { kind: 'otherHash', objectType, algorithm: props[1] as string }
      : { kind: 'value', objectType, type: known.type, raw: literal, strength: known.strength };
  }
  return problem(unsupportedType(`${objectType} not supported`));
}

/** One leaf per value a comparison asserts: one for `=`, one per member for `IN` (an OR of `=`). */
function leavesOf(c: Comparison): Leaf[] {
  const objectType = c.path.objectType.toLowerCase();
  const props: string[] = [];
  for (const step of c.path.steps) {
    if (step.kind === 'index') return [problem(unsupported(`list index [${step.index}] in ${objectType} path not supported`))];
    props.push(step.name);
  }
  const pathText = `${objectType}:${props.join('.')}`;
  if (c.negated) return [problem(unsupported(`NOT ${c.operator} on ${pathText} not supported`))];
  if (c.operator === 'IN') {
    const set = c.value as readonly Literal[];
    if (set.length === 0) return [problem(unsupported(`empty IN set on ${pathText} matches nothing`))];
    return set.map((lit) => classifyLiteral(c, objectType, props, lit));
  }
  if (c.operator !== '=') {
    return [problem(unsupported(c.operator === '!=' ? `!= not supported (${pathText})` : `operator ${c.operator} not supported (${pathText})`))];
  }
  return [classifyLiteral(c, objectType, props, c.value as Literal)];
}

function otherHashProblem(leaf: Leaf & { kind: 'otherHash' }): ExtractionProblem {
  return leaf.objectType === 'x509-certificate'
    ? unsupportedType(`x509-certificate hash ${leaf.algorithm} not supported (CertificateThumbprint takes SHA-1)`)
    : unsupportedType(`file hash ${leaf.algorithm} not supported (MD5, SHA-1, SHA-256 only)`);
}

function pushLeaf(leaf: Leaf, into: Extraction): void {
  if (leaf.kind === 'value') into.values.push({ type: leaf.type, raw: leaf.raw });
  else into.problems.push(leaf.kind === 'problem' ? leaf.problem : otherHashProblem(leaf));
}

/** The terms of an AND chain in source order (iterative: chains may be tens of thousands long). */
function flattenAnd(c: ComparisonExpression): ComparisonExpression[] {
  const out: ComparisonExpression[] = [];
  const todo: ComparisonExpression[] = [c];
  for (let t = todo.pop(); t !== undefined; t = todo.pop()) {
    if (t.kind === 'and') todo.push(t.right, t.left);
    else out.push(t);
  }
  return out;
}

/**
 * AND inside one observation. A supported hash of a file (or a certificate's SHA-1) identifies the
 * object: the other terms on that object (`file:name`, `file:size`, other hashes) only describe the
 * same object further, so the strongest hash is published. Without one, AND is not representable
 * (Defender holds one value per indicator).
 */
function fromAnd(c: ComparisonExpression, into: Extraction): void {
  const terms = flattenAnd(c);
  if (terms.some((t) => t.kind === 'or')) return void into.problems.push(unsupported('OR nested inside AND not supported'));
  const objectTypes = [...new Set(terms.map((t) => (t as Comparison).path.objectType.toLowerCase()))];
  if (objectTypes.length > 1) return void into.problems.push(unsupported(`AND across different objects (${objectTypes.join(', ')})`));
  const perTerm = terms.map((t) => ({ term: t, leaves: t.kind === 'comparison' ? leavesOf(t) : [problem(unsupported('EXISTS not supported'))] }));
  const hashTerms = perTerm.filter((p) => p.leaves.some((l) => l.kind === 'value' && l.strength > 0));
  if (hashTerms.length === 1) {
    for (const leaf of (hashTerms[0] as (typeof perTerm)[number]).leaves) pushLeaf(leaf, into);
    return;
  }
  if (hashTerms.some((p) => (p.term as Comparison).operator === 'IN')) {
    return void into.problems.push(unsupported(`IN next to another hash of the same ${objectTypes[0]} not supported`));
  }
  const leaves = perTerm.flatMap((p) => p.leaves);
  let best: (Leaf & { kind: 'value' }) | undefined;
  for (const leaf of leaves) {
    if (leaf.kind !== 'value' || leaf.strength === 0) continue;
    if (best !== undefined && best.type === leaf.type && best.raw.toLowerCase() !== leaf.raw.toLowerCase()) {
      return void into.problems.push(unsupported(`AND of two different ${leaf.type} values`));
    }
    if (best === undefined || leaf.strength > best.strength) best = leaf;
  }
  if (best !== undefined) return void into.values.push({ type: best.type, raw: best.raw });
  const otherHash = leaves.find((l) => l.kind === 'otherHash');
  if (otherHash !== undefined) return void into.problems.push(otherHashProblem(otherHash));
  const first = leaves.find((l) => l.kind === 'problem');
  if (first !== undefined) return void into.problems.push(first.problem);
  into.problems.push(unsupported(`AND of ${objectTypes[0]} values not supported`));
}

function fromComparison(root: ComparisonExpression, into: Extraction): void {
  const todo: ComparisonExpression[] = [root];
  for (let c = todo.pop(); c !== undefined; c = todo.pop()) {
    switch (c.kind) {
      case 'or':
        todo.push(c.right, c.left); // left first: values come out in source order
        break;
      case 'and':
        fromAnd(c, into);
        break;
      case 'exists':
        into.problems.push(unsupported('EXISTS not supported'));
        break;
      case 'comparison':
        for (const leaf of leavesOf(c)) pushLeaf(leaf, into);
    }
  }
}

function fromObservation(root: ObservationExpression, into: Extraction): void {
  const todo: ObservationExpression[] = [root];
  for (let o = todo.pop(); o !== undefined; o = todo.pop()) {
    switch (o.kind) {
      case 'observation':
        fromComparison(o.comparison, into);
        break;
      case 'or':
        todo.push(o.right, o.left);
        break;
      case 'and':
        into.problems.push(unsupported('AND between observations not supported'));
        break;
      case 'followedBy':
        into.problems.push(unsupported('FOLLOWEDBY not supported'));
        break;
      case 'qualified':
        into.problems.push(unsupported(`qualifier ${QUALIFIER_NAMES[o.qualifier.kind]} not supported`));
    }
  }
}

/**
 * The values of a parsed pattern that Defender can represent, and why the rest cannot be.
 * OR (between comparisons or observations) and IN yield each branch or member; AND within one
 * observation yields the strongest hash of the file/certificate it describes, if it has one.
 */
export function extractValues(pattern: Pattern): Extraction {
  const out: Extraction = { values: [], problems: [] };
  fromObservation(pattern, out);
  return out;
}
