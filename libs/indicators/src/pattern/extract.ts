// What of a STIX pattern Defender can represent: `=` comparisons on single values. OR branches are
// independent detections, so each representable branch is kept and each other branch is reported.
import type { DefenderIndicatorType } from '../types.ts';
import type { ComparisonExpression, ObservationExpression, Pattern } from './ast.ts';

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

function classify(c: ComparisonExpression & { kind: 'comparison' }): Leaf {
  const problem = (p: ExtractionProblem): Leaf => ({ kind: 'problem', problem: p });
  const objectType = c.path.objectType.toLowerCase();
  const props: string[] = [];
  for (const step of c.path.steps) {
    if (step.kind === 'index') return problem(unsupported(`list index [${step.index}] in ${objectType} path not supported`));
    props.push(step.name);
  }
  const pathText = `${objectType}:${props.join('.')}`;
  if (c.negated) return problem(unsupported(`NOT ${c.operator} on ${pathText} not supported`));
  if (c.operator !== '=') {
    return problem(unsupported(c.operator === '!=' ? `!= not supported (${pathText})` : `operator ${c.operator} not supported (${pathText})`));
  }
  const lit = Array.isArray(c.value) ? undefined : (c.value as Exclude<typeof c.value, readonly unknown[]>);
  const isHashPath = props.length === 2 && props[0]?.toLowerCase() === 'hashes';
  const literal = lit?.kind === 'string' || (lit?.kind === 'hex' && isHashPath) ? String(lit.value) : undefined;

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

function otherHashProblem(leaf: Leaf & { kind: 'otherHash' }): ExtractionProblem {
  return leaf.objectType === 'x509-certificate'
    ? unsupportedType(`x509-certificate hash ${leaf.algorithm} not supported (CertificateThumbprint takes SHA-1)`)
    : unsupportedType(`file hash ${leaf.algorithm} not supported (MD5, SHA-1, SHA-256 only)`);
}

function flattenAnd(c: ComparisonExpression, out: ComparisonExpression[]): void {
  if (c.kind === 'and') {
    flattenAnd(c.left, out);
    flattenAnd(c.right, out);
  } else out.push(c);
}

function fromAnd(c: ComparisonExpression, into: Extraction): void {
  const terms: ComparisonExpression[] = [];
  flattenAnd(c, terms);
  const leaves: Exclude<Leaf, { kind: 'problem' }>[] = [];
  for (const t of terms) {
    if (t.kind === 'exists') return void into.problems.push(unsupported('EXISTS not supported'));
    if (t.kind !== 'comparison') return void into.problems.push(unsupported('OR nested inside AND not supported'));
    const leaf = classify(t);
    if (leaf.kind === 'problem') return void into.problems.push(leaf.problem);
    leaves.push(leaf);
  }
  const objectTypes = new Set(leaves.map((l) => l.objectType));
  if (objectTypes.size > 1) return void into.problems.push(unsupported(`AND across different objects (${[...objectTypes].join(', ')})`));
  // Several hashes of one file (or certificate) describe the same object: keep the strongest.
  let best: (Leaf & { kind: 'value' }) | undefined;
  for (const leaf of leaves) {
    if (leaf.kind !== 'value') continue;
    if (leaf.strength === 0) return void into.problems.push(unsupported(`AND of ${leaf.objectType} values not supported`));
    if (best !== undefined && best.type === leaf.type && best.raw.toLowerCase() !== leaf.raw.toLowerCase()) {
      return void into.problems.push(unsupported(`AND of two different ${leaf.type} values`));
    }
    if (best === undefined || leaf.strength > best.strength) best = leaf;
  }
  if (best === undefined) {
    const first = leaves[0];
    if (first?.kind === 'otherHash') into.problems.push(otherHashProblem(first));
    return;
  }
  into.values.push({ type: best.type, raw: best.raw });
}

function fromComparison(c: ComparisonExpression, into: Extraction): void {
  switch (c.kind) {
    case 'or':
      fromComparison(c.left, into);
      fromComparison(c.right, into);
      return;
    case 'and':
      fromAnd(c, into);
      return;
    case 'exists':
      into.problems.push(unsupported('EXISTS not supported'));
      return;
    case 'comparison': {
      const leaf = classify(c);
      if (leaf.kind === 'value') into.values.push({ type: leaf.type, raw: leaf.raw });
      else into.problems.push(leaf.kind === 'problem' ? leaf.problem : otherHashProblem(leaf));
    }
  }
}

const QUALIFIER_NAMES = { within: 'WITHIN', repeats: 'REPEATS', startStop: 'START/STOP' } as const;

function fromObservation(o: ObservationExpression, into: Extraction): void {
  switch (o.kind) {
    case 'observation':
      fromComparison(o.comparison, into);
      return;
    case 'or':
      fromObservation(o.left, into);
      fromObservation(o.right, into);
      return;
    case 'and':
      into.problems.push(unsupported('AND between observations not supported'));
      return;
    case 'followedBy':
      into.problems.push(unsupported('FOLLOWEDBY not supported'));
      return;
    case 'qualified':
      into.problems.push(unsupported(`qualifier ${QUALIFIER_NAMES[o.qualifier.kind]} not supported`));
  }
}

/**
 * The values of a parsed pattern that Defender can represent, and why the rest cannot be.
 * OR (between comparisons or observations) yields each branch; AND within one observation
 * is accepted only between hashes of one file/certificate and yields the strongest hash.
 */
export function extractValues(pattern: Pattern): Extraction {
  const out: Extraction = { values: [], problems: [] };
  fromObservation(pattern, out);
  return out;
}
