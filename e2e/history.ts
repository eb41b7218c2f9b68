// A scripted OpenCTI history, seeded and deterministic: creates of every indicator type the product
// maps (Indicators with STIX patterns, and observables), then updates that change the value, score,
// TLP and validity, revocations, detection turned off, deletes, merges, second sources that are
// later retracted, unsupported patterns, refused values and malformed events.
//
// Every step carries, next to the emulator operation, the facts it states about its entity in plain
// terms (value, type, score, TLP, validity…). The oracle (oracle.ts) folds those facts; nothing here
// or there parses a pattern or normalizes a value: the values are written in Defender's canonical
// form to begin with.
import { MALFORMED_KINDS, OCTI_EXT, Random, SCO_EXT, StixGenerator, TLP_MARKINGS, indicatorId, scoId } from '@octi-defender/emulators';
import type { IndicatorKind, MalformedKind, StixObject, StreamOp, TlpName } from '@octi-defender/emulators';

export type IndicatorType = 'IpAddress' | 'DomainName' | 'Url' | 'FileMd5' | 'FileSha1' | 'FileSha256' | 'CertificateThumbprint';

/** What OpenCTI says about one entity after a step. `type` undefined: a pattern Defender cannot take. */
export interface Facts {
  readonly entityId: string;
  readonly type: IndicatorType | undefined;
  readonly value: string;
  readonly score: number;
  readonly tlp: TlpName;
  /** ISO date, or undefined for none. */
  readonly validUntil: string | undefined;
  readonly revoked: boolean;
  readonly detection: boolean;
  readonly deleted: boolean;
}

export type Step =
  | { readonly kind: 'op'; readonly op: StreamOp; readonly facts: readonly Facts[] }
  | { readonly kind: 'malformed'; readonly malformed: MalformedKind };

export interface History {
  readonly steps: readonly Step[];
  /** How many steps of each kind, for the report. */
  readonly counts: Readonly<Record<string, number>>;
  /** Appends scenario-specific steps to this history (the oracle sees them like the others). */
  readonly more: {
    create(type: IndicatorType, opts?: { value?: string; score?: number; tlp?: TlpName }): EntityRef;
    update(e: EntityRef, change: Partial<Pick<Facts, 'score' | 'tlp' | 'validUntil' | 'revoked' | 'detection'>>): void;
    remove(e: EntityRef): void;
  };
}

/** An entity of the history, for scenario-specific steps. */
export interface EntityRef {
  readonly facts: Facts;
}

interface Entity {
  facts: Facts;
  readonly stix: StixObject;
  readonly form: 'indicator' | 'observable';
  /** IPv4 as ipv4-addr, IPv6 as ipv6-addr (both IpAddress in Defender). */
  readonly v6: boolean;
}

const DAY = 86_400_000;
const SCORES = [0, 5, 15, 25, 29, 30, 35, 45, 59, 60, 70, 85, 100];
const TLPS: TlpName[] = ['TLP:CLEAR', 'TLP:GREEN', 'TLP:AMBER', 'TLP:AMBER+STRICT', 'TLP:WHITE'];
const TYPES: IndicatorType[] = ['IpAddress', 'IpAddress', 'DomainName', 'Url', 'FileMd5', 'FileSha1', 'FileSha256', 'CertificateThumbprint'];
const UNSUPPORTED: IndicatorKind[] = ['cidr', 'private-ip', 'matches', 'email', 'followedby'];

function pattern(type: IndicatorType, value: string, v6: boolean): { pattern: string; main: string; observed: Record<string, unknown> } {
  const one = (stixType: string, main: string) => ({ pattern: `[${stixType}:value = '${value}']`, main, observed: { type: main, value } });
  // A quarter of the files (by value, so that updates keep the shape) are written as MISP-originated
  // indicators are: the hash ANDed with other properties of the same file, which asserts the hash.
  const also = parseInt(value[0] ?? '0', 16) < 4 ? ` AND file:size = ${parseInt(value.slice(0, 4), 16) + 1}` : '';
  const hash = (object: string, algo: string, main: string) => ({
    pattern: `[${object}:hashes.'${algo}' = '${value}'${object === 'file' ? also : ''}]`,
    main,
    observed: { type: main, hashes: { [algo]: value } },
  });
  switch (type) {
    case 'IpAddress':
      return v6 ? one('ipv6-addr', 'IPv6-Addr') : one('ipv4-addr', 'IPv4-Addr');
    case 'DomainName':
      return one('domain-name', 'Domain-Name');
    case 'Url':
      return one('url', 'Url');
    case 'FileMd5':
      return hash('file', 'MD5', 'StixFile');
    case 'FileSha1':
      return hash('file', 'SHA-1', 'StixFile');
    case 'FileSha256':
      return hash('file', 'SHA-256', 'StixFile');
    case 'CertificateThumbprint':
      return hash('x509-certificate', 'SHA-1', 'X509-Certificate');
  }
}

export interface HistoryOptions {
  readonly seed?: number;
  /** Indicator and observable creates (the other steps scale with it). */
  readonly entities?: number;
  readonly now?: number;
}

export function buildHistory(opts: HistoryOptions = {}): History {
  const seed = opts.seed ?? 7;
  const n = opts.entities ?? 2000;
  const now = opts.now ?? Date.now();
  const r = new Random(seed);
  const gen = new StixGenerator({ seed, epochMs: now - 2 * DAY });
  const steps: Step[] = [];
  const counts: Record<string, number> = {};
  const count = (k: string): void => {
    counts[k] = (counts[k] ?? 0) + 1;
  };
  const used = new Set<string>();
  const entities: Entity[] = [];
  const future = (): string => new Date(now + r.int(60, 365) * DAY).toISOString();
  const past = (): string => new Date(now - r.int(2, 20) * DAY).toISOString();

  const fresh = (type: IndicatorType, v6: boolean): string => {
    for (;;) {
      const v = (() => {
        switch (type) {
          case 'IpAddress':
            return v6
              ? `2a02:${r.int(1, 0xffff).toString(16)}:${r.int(0, 0xffff).toString(16)}:${r.int(0, 0xffff).toString(16)}:0:0:0:${r.int(1, 0xffff).toString(16)}`
              : gen.publicIpv4();
          case 'DomainName':
            return gen.domain();
          case 'Url':
            return gen.url();
          case 'FileMd5':
            return r.hex(32);
          case 'FileSha1':
          case 'CertificateThumbprint':
            return r.hex(40);
          case 'FileSha256':
            return r.hex(64);
        }
      })();
      if (!used.has(`${type}:${v}`)) {
        used.add(`${type}:${v}`);
        return v;
      }
    }
  };

  const indicatorObject = (f: Facts, v6: boolean, stixId: string): StixObject => {
    const base = gen.indicator('ipv4');
    const p = pattern(f.type!, f.value, v6);
    const ext = (base.extensions as Record<string, Record<string, unknown>>)[OCTI_EXT]!;
    return {
      ...base,
      id: stixId,
      name: f.value,
      pattern: p.pattern,
      ...(f.validUntil === undefined ? { valid_until: undefined } : { valid_until: f.validUntil }),
      revoked: f.revoked,
      object_marking_refs: [TLP_MARKINGS[f.tlp]],
      extensions: { [OCTI_EXT]: { ...ext, id: f.entityId, score: f.score, detection: f.detection, main_observable_type: p.main, observable_values: [p.observed] } },
    };
  };

  const observableObject = (f: Facts, v6: boolean): StixObject => {
    const kind = f.type === 'IpAddress' ? (v6 ? 'ipv6' : 'ipv4') : f.type === 'DomainName' ? 'domain' : f.type === 'Url' ? 'url' : 'file';
    const base = gen.observable(kind);
    const exts = base.extensions as Record<string, Record<string, unknown>>;
    const fields = kind === 'file' ? { hashes: { 'SHA-256': f.value }, name: undefined } : { value: f.value };
    return {
      ...base,
      ...fields,
      id: scoId(base.type, kind === 'file' ? { hashes: { 'SHA-256': f.value } } : { value: f.value }),
      object_marking_refs: [TLP_MARKINGS[f.tlp]],
      extensions: { [OCTI_EXT]: { ...exts[OCTI_EXT], id: f.entityId }, [SCO_EXT]: { ...exts[SCO_EXT], score: f.score } },
    };
  };

  const create = (type: IndicatorType, opts2: { form?: 'indicator' | 'observable'; value?: string; v6?: boolean; score?: number; tlp?: TlpName } = {}): Entity => {
    const v6 = opts2.v6 ?? (type === 'IpAddress' && r.chance(0.3));
    const form = opts2.form ?? 'indicator';
    const facts: Facts = {
      entityId: r.uuid(),
      type,
      value: opts2.value ?? fresh(type, v6),
      score: opts2.score ?? r.pick(type === 'CertificateThumbprint' && r.chance(0.8) ? [60, 75, 90] : SCORES),
      tlp: opts2.tlp ?? r.pick(TLPS),
      validUntil: form === 'indicator' ? future() : undefined,
      revoked: false,
      detection: true,
      deleted: false,
    };
    const stixId = form === 'indicator' ? (opts2.value === undefined ? indicatorId(pattern(type, facts.value, v6).pattern) : `indicator--${r.uuid()}`) : '';
    const stix = form === 'indicator' ? indicatorObject(facts, v6, stixId) : observableObject(facts, v6);
    const e: Entity = { facts, stix, form, v6 };
    entities.push(e);
    steps.push({ kind: 'op', op: { op: 'create', data: stix }, facts: [facts] });
    count(form === 'indicator' ? `create:${type}` : `observable:${type}`);
    return e;
  };

  const update = (e: Entity, change: Partial<Facts>, what: string): void => {
    const f: Facts = { ...e.facts, ...change };
    e.facts = f;
    const changes: Record<string, unknown> = {};
    if (e.form === 'indicator') {
      const ext: Record<string, unknown> = {};
      if ('value' in change) {
        const p = pattern(f.type!, f.value, e.v6);
        changes.pattern = p.pattern;
        changes.name = f.value;
        ext.observable_values = [p.observed];
      }
      if ('score' in change) ext.score = f.score;
      if ('detection' in change) ext.detection = f.detection;
      if (Object.keys(ext).length > 0) changes.extensions = { [OCTI_EXT]: ext };
      if ('revoked' in change) changes.revoked = f.revoked;
      if ('validUntil' in change) changes.valid_until = f.validUntil ?? null;
    } else if ('score' in change) {
      changes.extensions = { [SCO_EXT]: { score: f.score } };
    }
    if ('tlp' in change) changes.object_marking_refs = [TLP_MARKINGS[f.tlp]];
    steps.push({ kind: 'op', op: { op: 'update', id: e.stix.id, changes }, facts: [f] });
    count(what);
  };

  const remove = (e: Entity, what: string): void => {
    e.facts = { ...e.facts, deleted: true };
    steps.push({ kind: 'op', op: { op: 'delete', id: e.stix.id }, facts: [e.facts] });
    count(what);
  };

  // 1. Creates: every type, Indicators mostly, observables for the types they exist for.
  for (let i = 0; i < n; i++) {
    const type = TYPES[i % TYPES.length]!;
    const observable = type !== 'CertificateThumbprint' && type !== 'FileMd5' && type !== 'FileSha1' && r.chance(0.1);
    create(type, { form: observable ? 'observable' : 'indicator' });
  }
  // Unsupported patterns and refused values (documentation ranges): expected absent.
  for (let i = 0; i < Math.max(6, Math.floor(n / 100)); i++) {
    const stix = gen.indicator(UNSUPPORTED[i % UNSUPPORTED.length]);
    steps.push({ kind: 'op', op: { op: 'create', data: stix }, facts: [] });
    count('unsupported');
  }
  for (let i = 0; i < Math.max(3, Math.floor(n / 300)); i++) {
    const value = `${r.pick(['192.0.2', '198.51.100', '203.0.113'])}.${r.int(1, 254)}`;
    const facts: Facts = { entityId: r.uuid(), type: undefined, value, score: 80, tlp: 'TLP:GREEN', validUntil: future(), revoked: false, detection: true, deleted: false };
    const stix = indicatorObject({ ...facts, type: 'IpAddress' }, false, indicatorId(`[ipv4-addr:value = '${value}']`));
    steps.push({ kind: 'op', op: { op: 'create', data: stix }, facts: [facts] });
    count('refused');
  }
  // 2. Second sources: another Indicator or an observable asserting a value already asserted.
  const seconds: Entity[] = [];
  for (let i = 0; i < Math.floor(n / 25); i++) {
    const first = entities[r.int(0, n - 1)]!;
    if (first.facts.type === 'CertificateThumbprint' || first.facts.type === 'FileMd5' || first.facts.type === 'FileSha1') continue;
    const others = entities.filter((e) => e.facts.value === first.facts.value && !e.facts.deleted).map((e) => e.facts.score);
    const score = r.pick(SCORES.filter((s) => !others.includes(s)));
    const form = first.facts.type === 'FileSha256' || r.chance(0.5) ? 'indicator' : 'observable';
    if (form === 'observable' && entities.some((e) => e.form === 'observable' && e.facts.value === first.facts.value)) continue;
    seconds.push(create(first.facts.type!, { form, value: first.facts.value, v6: first.v6, score }));
    count('second-source');
  }
  // 3. Updates, in a seeded order over the live entities.
  const live = (): Entity[] => entities.filter((e) => !e.facts.deleted);
  const scoreFor = (e: Entity): number => {
    const others = entities.filter((o) => o !== e && !o.facts.deleted && o.facts.value === e.facts.value).map((o) => o.facts.score);
    return r.pick(SCORES.filter((s) => s !== e.facts.score && !others.includes(s)));
  };
  for (let i = 0; i < Math.floor(n * 0.6); i++) {
    const pool = live();
    const e = pool[r.int(0, pool.length - 1)]!;
    const roll = r.next();
    if (e.form === 'observable') {
      if (roll < 0.8) update(e, { score: scoreFor(e) }, 'update:score');
      else remove(e, 'delete');
      continue;
    }
    if (roll < 0.35) update(e, { score: scoreFor(e) }, 'update:score');
    else if (roll < 0.45) {
      // A value edit: only on values no other entity asserts (keeps second sources readable).
      if (entities.some((o) => o !== e && o.facts.value === e.facts.value)) continue;
      update(e, { value: fresh(e.facts.type!, e.v6) }, 'update:value');
    } else if (roll < 0.55) update(e, { tlp: r.chance(0.5) ? 'TLP:RED' : r.pick(TLPS.filter((t) => t !== e.facts.tlp)) }, 'update:tlp');
    else if (roll < 0.65) update(e, { validUntil: r.chance(0.5) ? past() : future() }, 'update:validity');
    else if (roll < 0.72) update(e, { revoked: true }, 'revoke');
    else if (roll < 0.76) update(e, { detection: false }, 'update:detection-off');
    else if (roll < 0.88) remove(e, 'delete');
    else if (roll < 0.94) {
      const target = pool.find((o) => o !== e && o.form === 'indicator' && o.facts.type === e.facts.type && o.facts.value !== e.facts.value);
      if (!target) continue;
      e.facts = { ...e.facts, deleted: true };
      // The merge event re-asserts the target too (its claim now dates from this event).
      steps.push({ kind: 'op', op: { op: 'merge', targetId: target.stix.id, sourceIds: [e.stix.id] }, facts: [e.facts, target.facts] });
      count('merge');
    } else {
      steps.push({ kind: 'malformed', malformed: MALFORMED_KINDS[i % 3]! });
      count('malformed');
    }
  }
  // 4. Half of the second sources are retracted again.
  for (const e of seconds) if (!e.facts.deleted && r.chance(0.5)) remove(e, 'retract-second-source');
  return {
    steps,
    counts,
    more: {
      create: (type, o = {}) => create(type, { ...o, v6: false }),
      update: (e, change) => update(e as Entity, change, 'scenario:update'),
      remove: (e) => remove(e as Entity, 'scenario:delete'),
    },
  };
}

/** A Defender indicator body of another creator, for seeding; `fields` adds or overrides fields. */
export function foreignIndicator(value: string, action = 'Block', fields: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    indicatorValue: value,
    indicatorType: 'IpAddress',
    action,
    title: 'Analyst block',
    description: 'Manual block by the SOC',
    severity: 'High',
    generateAlert: true,
    application: 'SOC console',
    ...fields,
  };
}
