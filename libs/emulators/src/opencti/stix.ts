// STIX 2.1 content as OpenCTI streams it: the OpenCTI extensions, standard ids, TLP markings, and a
// seeded generator of realistic Indicators and observables (research/opencti.md §1.4–1.5).
import { uuid5 } from '@octi-defender/indicators';

export const OCTI_EXT = 'extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba';
export const SCO_EXT = 'extension-definition--f93e2c80-4231-4f9a-af8b-95c9bd566a82';
/** Namespaces OpenCTI uses for its deterministic ids (SCOs follow the STIX spec's OASIS namespace). */
const OASIS_NAMESPACE = '00abedb4-aa42-466c-9c01-fed23315a9b7';
export const OPENCTI_NAMESPACE = 'b639ff3b-00eb-42ed-aa36-a8dd6f8fb4cf';
export const OPENCTI_ADMIN_UUID = '88ec0c6a-13ce-5e39-b486-354fe4a7084f';

/** STIX 2.1 standard TLP ids, plus OpenCTI's TLP:CLEAR and TLP:AMBER+STRICT. */
export const TLP_MARKINGS = {
  'TLP:CLEAR': 'marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487',
  'TLP:WHITE': 'marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9',
  'TLP:GREEN': 'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da',
  'TLP:AMBER': 'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82',
  'TLP:AMBER+STRICT': 'marking-definition--826578e1-40ad-459f-bc73-ede076f81f37',
  'TLP:RED': 'marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed',
} as const;
export type TlpName = keyof typeof TLP_MARKINGS;

export type StixObject = { id: string; type: string } & Record<string, unknown>;

/** Indicator pattern kinds; the last seven are ones Defender cannot represent as one indicator. */
export const INDICATOR_KINDS = [
  'ipv4',
  'ipv6',
  'domain',
  'hostname',
  'url',
  'md5',
  'sha1',
  'sha256',
  'x509-sha1',
  'x509-sha256',
  'cidr',
  'private-ip',
  'matches',
  'email',
  'and',
  'or',
  'followedby',
] as const;
export type IndicatorKind = (typeof INDICATOR_KINDS)[number];
export const OBSERVABLE_KINDS = ['ipv4', 'ipv6', 'domain', 'hostname', 'url', 'file', 'x509'] as const;
export type ObservableKind = (typeof OBSERVABLE_KINDS)[number];

/** Canonical JSON (sorted keys) as STIX id generation requires. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function scoId(type: string, contributing: Record<string, unknown>): string {
  return `${type}--${uuid5(OASIS_NAMESPACE, canonical(contributing))}`;
}

export function indicatorId(pattern: string): string {
  return `indicator--${uuid5(OPENCTI_NAMESPACE, canonical({ pattern }))}`;
}

/** sfc32: small, fast, seedable; good enough for test data. */
export class Random {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }
  next(): number {
    this.#a >>>= 0;
    this.#b >>>= 0;
    this.#c >>>= 0;
    this.#d >>>= 0;
    let t = (this.#a + this.#b) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#d = (this.#d + 1) | 0;
    t = (t + this.#d) | 0;
    this.#c = (this.#c + t) | 0;
    return (t >>> 0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  hex(length: number): string {
    let out = '';
    while (out.length < length) out += Math.floor(this.next() * 0x100000000).toString(16).padStart(8, '0');
    return out.slice(0, length);
  }
  uuid(): string {
    const h = this.hex(32);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${'89ab'[this.int(0, 3)]}${h.slice(17, 20)}-${h.slice(20)}`;
  }
}

const WORDS = [
  'cobalt',
  'nimbus',
  'vector',
  'harbor',
  'quartz',
  'ember',
  'falcon',
  'delta',
  'onyx',
  'pixel',
  'raven',
  'sierra',
  'tango',
  'umbra',
  'vortex',
  'zephyr',
  'update',
  'secure',
  'login',
  'cdn',
  'mail',
  'portal',
  'account',
  'verify',
];
const TLDS = ['com', 'net', 'org', 'info', 'xyz', 'top', 'ru', 'io', 'biz', 'online'];
const LABELS = ['c2', 'phishing', 'malware', 'botnet', 'ransomware', 'scanner', 'apt', 'cryptomining'];
const INDICATOR_TYPES = ['malicious-activity', 'anomalous-activity', 'attribution', 'compromised'];
const MARKING_WEIGHTS: TlpName[] = ['TLP:CLEAR', 'TLP:GREEN', 'TLP:GREEN', 'TLP:AMBER', 'TLP:AMBER', 'TLP:AMBER+STRICT', 'TLP:RED', 'TLP:WHITE'];
/** First octets outside every private, shared, loopback, link-local, documentation and multicast range. */
const PUBLIC_FIRST_OCTETS = [5, 23, 31, 37, 45, 46, 62, 77, 78, 80, 85, 89, 91, 94, 103, 104, 109, 139, 141, 146, 151, 176, 178, 185, 188, 193, 194, 195, 212, 213, 217];

const AUTHORS = [
  { name: 'CERT-EU', id: 'identity--9a3a1b0c-5e2b-5d9c-9d2f-0a4a2b7c1e11' },
  { name: 'AlienVault', id: 'identity--c15c3e21-6c36-5ad9-8a4e-4f0b1b6a7e22' },
  { name: 'Internal SOC', id: 'identity--7c4e8b5a-2f1d-5b8e-9a6c-3d2e1f0a9b33' },
] as const;

interface Observed {
  type: string;
  value?: string;
  hashes?: Record<string, string>;
}

interface GeneratorOptions {
  seed?: number;
  /** Base time of created/valid_from dates (epoch ms); fix it for byte-identical output across runs. */
  epochMs?: number;
}

/** Deterministic (for a seed and epoch) generator of OpenCTI-shaped STIX objects. */
export class StixGenerator {
  readonly random: Random;
  readonly epochMs: number;
  #tick = 0;

  constructor(options: GeneratorOptions = {}) {
    this.random = new Random(options.seed ?? 1);
    this.epochMs = options.epochMs ?? Date.now();
  }

  /** A timestamp that advances one second per object, so updated_at orders like a real platform. */
  timestamp(): string {
    this.#tick += 1;
    return new Date(this.epochMs + this.#tick * 1000).toISOString();
  }

  publicIpv4(): string {
    const r = this.random;
    return `${r.pick(PUBLIC_FIRST_OCTETS)}.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`;
  }
  publicIpv6(): string {
    const r = this.random;
    // 2a00::/12 (RIPE) and 2600::/12 (ARIN): globally routed unicast.
    return `${r.pick(['2a02', '2a03', '2a0e', '2600', '2606', '2607'])}:${r.hex(4)}:${r.hex(4)}:${r.hex(4)}:${r.int(0, 0xffff).toString(16)}:0:0:${r.int(1, 0xffff).toString(16)}`;
  }
  domain(): string {
    const r = this.random;
    return `${r.pick(WORDS)}-${r.pick(WORDS)}${r.int(1, 999)}.${r.pick(TLDS)}`;
  }
  hostname(): string {
    return `${this.random.pick(['mail', 'vpn', 'srv1', 'cdn', 'api'])}.${this.domain()}`;
  }
  url(): string {
    const r = this.random;
    return `${r.pick(['http', 'https'])}://${this.domain()}/${r.pick(WORDS)}/${r.pick(['index.php', 'gate.php', 'login.html', 'payload.bin', 'update.exe'])}`;
  }

  #markings(): string[] {
    return [TLP_MARKINGS[this.random.pick(MARKING_WEIGHTS)]];
  }

  #octiExtension(type: string, created: string, extra: Record<string, unknown>): Record<string, unknown> {
    const author = this.random.pick(AUTHORS);
    return {
      extension_type: 'property-extension',
      id: this.random.uuid(),
      type,
      created_at: created,
      updated_at: created,
      is_inferred: false,
      creator_ids: [OPENCTI_ADMIN_UUID],
      labels_ids: [],
      created_by_ref_id: uuid5(OPENCTI_NAMESPACE, author.id),
      stix_ids: [],
      ...extra,
    };
  }

  /** One Indicator of the given kind (random when omitted), with OpenCTI's extension. */
  indicator(kind: IndicatorKind = this.random.pick(INDICATOR_KINDS)): StixObject {
    const r = this.random;
    const { pattern, observed, mainType, name } = this.#pattern(kind);
    const created = this.timestamp();
    const score = r.int(10, 100);
    const validUntil = new Date(Date.parse(created) + r.int(7, 180) * 86_400_000).toISOString();
    const author = r.pick(AUTHORS);
    return {
      id: indicatorId(pattern),
      spec_version: '2.1',
      type: 'indicator',
      created,
      modified: created,
      name,
      description: `${r.pick(LABELS)} infrastructure reported by ${author.name}`,
      pattern,
      pattern_type: 'stix',
      pattern_version: '2.1',
      valid_from: created,
      valid_until: validUntil,
      indicator_types: [r.pick(INDICATOR_TYPES)],
      revoked: false,
      confidence: r.int(15, 100),
      lang: 'en',
      labels: [r.pick(LABELS)],
      object_marking_refs: this.#markings(),
      created_by_ref: author.id,
      external_references: [],
      extensions: {
        [OCTI_EXT]: this.#octiExtension('Indicator', created, {
          score,
          detection: true,
          main_observable_type: mainType,
          observable_values: observed.map((o) => (o.hashes ? { type: octiType(o.type), hashes: o.hashes } : { type: octiType(o.type), value: o.value })),
        }),
      },
    };
  }

  #pattern(kind: IndicatorKind): { pattern: string; observed: Observed[]; mainType: string; name: string } {
    const r = this.random;
    const one = (type: string, value: string): { pattern: string; observed: Observed[]; mainType: string; name: string } => ({
      pattern: `[${type}:value = '${value}']`,
      observed: [{ type, value }],
      mainType: octiType(type),
      name: value,
    });
    const hash = (object: 'file' | 'x509-certificate', algo: string, length: number) => {
      const value = r.hex(length);
      const quoted = algo.includes('-') ? `'${algo}'` : algo;
      return { pattern: `[${object}:hashes.${quoted} = '${value}']`, observed: [{ type: object, hashes: { [algo]: value } }], mainType: octiType(object), name: value };
    };
    switch (kind) {
      case 'ipv4':
        return one('ipv4-addr', this.publicIpv4());
      case 'ipv6':
        return one('ipv6-addr', this.publicIpv6());
      case 'domain':
        return one('domain-name', this.domain());
      case 'hostname':
        return one('hostname', this.hostname());
      case 'url':
        return one('url', this.url());
      case 'md5':
        return hash('file', 'MD5', 32);
      case 'sha1':
        return hash('file', 'SHA-1', 40);
      case 'sha256':
        return hash('file', 'SHA-256', 64);
      case 'x509-sha1':
        return hash('x509-certificate', 'SHA-1', 40);
      case 'x509-sha256':
        return hash('x509-certificate', 'SHA-256', 64);
      case 'cidr':
        return one('ipv4-addr', `${r.pick(PUBLIC_FIRST_OCTETS)}.${r.int(0, 255)}.${r.int(0, 255)}.0/24`);
      case 'private-ip':
        return one(
          'ipv4-addr',
          r.pick([`10.${r.int(0, 255)}.${r.int(0, 255)}.${r.int(1, 254)}`, `192.168.${r.int(0, 255)}.${r.int(1, 254)}`, `172.${r.int(16, 31)}.${r.int(0, 255)}.${r.int(1, 254)}`]),
        );
      case 'email':
        return one('email-addr', `${r.pick(WORDS)}@${this.domain()}`);
      case 'matches': {
        const domain = this.domain();
        return { pattern: `[url:value MATCHES '^https?://${domain.replaceAll('.', '\\\\.')}/.*']`, observed: [], mainType: 'Url', name: `${domain} URLs` };
      }
      case 'and': {
        const md5 = r.hex(32);
        return { pattern: `[file:hashes.MD5 = '${md5}' AND file:size = ${r.int(1000, 900000)}]`, observed: [{ type: 'file', hashes: { MD5: md5 } }], mainType: 'StixFile', name: md5 };
      }
      case 'or': {
        const ip = this.publicIpv4();
        const domain = this.domain();
        return {
          pattern: `[ipv4-addr:value = '${ip}' OR domain-name:value = '${domain}']`,
          observed: [{ type: 'ipv4-addr', value: ip }, { type: 'domain-name', value: domain }],
          mainType: 'IPv4-Addr',
          name: `${ip} / ${domain}`,
        };
      }
      case 'followedby': {
        const ip = this.publicIpv4();
        const domain = this.domain();
        return {
          pattern: `[ipv4-addr:value = '${ip}'] FOLLOWEDBY [domain-name:value = '${domain}']`,
          observed: [{ type: 'ipv4-addr', value: ip }, { type: 'domain-name', value: domain }],
          mainType: 'IPv4-Addr',
          name: `${ip} then ${domain}`,
        };
      }
    }
  }

  /** One observable (SCO) of the given kind, with the OpenCTI and SCO extensions. */
  observable(kind: ObservableKind = this.random.pick(OBSERVABLE_KINDS)): StixObject {
    const r = this.random;
    const created = this.timestamp();
    const score = r.int(10, 100);
    const author = r.pick(AUTHORS);
    const label = r.pick(LABELS);
    const description = `Observed in ${label} activity`;
    let type: string;
    let fields: Record<string, unknown>;
    switch (kind) {
      case 'ipv4':
        type = 'ipv4-addr';
        fields = { value: this.publicIpv4() };
        break;
      case 'ipv6':
        type = 'ipv6-addr';
        fields = { value: this.publicIpv6() };
        break;
      case 'domain':
        type = 'domain-name';
        fields = { value: this.domain() };
        break;
      case 'hostname':
        type = 'hostname';
        fields = { value: this.hostname() };
        break;
      case 'url':
        type = 'url';
        fields = { value: this.url() };
        break;
      case 'file':
        type = 'file';
        fields = { hashes: { MD5: r.hex(32), 'SHA-1': r.hex(40), 'SHA-256': r.hex(64) }, name: `${r.pick(WORDS)}.exe` };
        break;
      case 'x509':
        type = 'x509-certificate';
        fields = { hashes: { 'SHA-1': r.hex(40), 'SHA-256': r.hex(64) }, subject: `CN=${this.domain()}`, issuer: "CN=R3, O=Let's Encrypt, C=US" };
        break;
    }
    const contributing = 'hashes' in fields ? { hashes: fields.hashes } : { value: fields.value };
    const octi = this.#octiExtension(octiType(type), created, {});
    // Custom SCOs (hostname) carry score/description/labels at top level; standard ones in the SCO extension.
    if (type === 'hostname') {
      return {
        id: scoId(type, contributing),
        spec_version: '2.1',
        type,
        ...fields,
        score,
        description,
        labels: [label],
        object_marking_refs: this.#markings(),
        created_by_ref: author.id,
        extensions: { [OCTI_EXT]: octi },
      };
    }
    return {
      id: scoId(type, contributing),
      spec_version: '2.1',
      type,
      ...fields,
      object_marking_refs: this.#markings(),
      extensions: {
        [OCTI_EXT]: octi,
        [SCO_EXT]: { extension_type: 'property-extension', labels: [label], description, score, created_by_ref: author.id },
      },
    };
  }
}

/** OpenCTI entity type names of STIX SCO types. */
export function octiType(stixType: string): string {
  const map: Record<string, string> = {
    'ipv4-addr': 'IPv4-Addr',
    'ipv6-addr': 'IPv6-Addr',
    'domain-name': 'Domain-Name',
    hostname: 'Hostname',
    url: 'Url',
    file: 'StixFile',
    'x509-certificate': 'X509-Certificate',
    'email-addr': 'Email-Addr',
  };
  return map[stixType] ?? stixType;
}

/** The marking-definition objects OpenCTI streams as dependencies. */
export function markingDefinitions(): StixObject[] {
  return Object.entries(TLP_MARKINGS).map(([name, id]) => ({
    id,
    spec_version: '2.1',
    type: 'marking-definition',
    created: '2022-07-21T09:00:00.000Z',
    definition_type: 'TLP',
    definition: { tlp: name.slice(4).toLowerCase() },
    name,
    extensions: {
      [OCTI_EXT]: {
        extension_type: 'property-extension',
        id: uuid5(OPENCTI_NAMESPACE, id),
        type: 'Marking-Definition',
        created_at: '2022-07-21T09:00:00.000Z',
        updated_at: '2022-07-21T09:00:00.000Z',
        is_inferred: false,
      },
    },
  }));
}

export function authorIdentities(): StixObject[] {
  return AUTHORS.map((a) => ({
    id: a.id,
    spec_version: '2.1',
    type: 'identity',
    created: '2022-07-21T09:00:00.000Z',
    modified: '2022-07-21T09:00:00.000Z',
    name: a.name,
    identity_class: 'organization',
    extensions: {
      [OCTI_EXT]: {
        extension_type: 'property-extension',
        id: uuid5(OPENCTI_NAMESPACE, a.id),
        type: 'Organization',
        created_at: '2022-07-21T09:00:00.000Z',
        updated_at: '2022-07-21T09:00:00.000Z',
        is_inferred: false,
      },
    },
  }));
}
