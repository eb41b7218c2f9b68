// Load mode payloads: distinct, realistic Indicator creates built by splicing values into pre-serialized
// templates, so emitting >100k events/s costs string concatenation, not object building + stringify.
import { OCTI_EXT, OPENCTI_ADMIN_UUID, TLP_MARKINGS } from './stix.ts';

const PUBLIC_FIRST_OCTETS = [5, 23, 31, 37, 45, 46, 62, 77, 78, 80, 85, 89, 91, 94, 103, 104, 109, 139, 141, 146, 151, 176, 178, 185, 188, 193, 194, 195, 212, 213, 217];

interface Kind {
  stixType: string;
  octiType: string;
  pattern: string;
  value: (i: number) => string;
}

const KINDS: Kind[] = [
  {
    stixType: 'ipv4-addr',
    octiType: 'IPv4-Addr',
    pattern: "[ipv4-addr:value = '@@V@@']",
    value: (i) => {
      const q = Math.floor(i / PUBLIC_FIRST_OCTETS.length);
      return `${PUBLIC_FIRST_OCTETS[i % PUBLIC_FIRST_OCTETS.length]}.${(q >>> 16) & 255}.${(q >>> 8) & 255}.${q & 255}`;
    },
  },
  { stixType: 'domain-name', octiType: 'Domain-Name', pattern: "[domain-name:value = '@@V@@']", value: (i) => `l${i.toString(36)}.threat-feed.net` },
  { stixType: 'url', octiType: 'Url', pattern: "[url:value = '@@V@@']", value: (i) => `http://u${i.toString(36)}.threat-feed.net/gate.php` },
  { stixType: 'file', octiType: 'StixFile', pattern: "[file:hashes.'SHA-256' = '@@V@@']", value: (i) => `${'f'}${i.toString(16).padStart(63, '0')}` },
];

const uuidFor = (prefix: string, i: number): string => `${prefix}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;

/** Returns payload(i): the `data:` JSON of the i-th load event, deterministic for a seed. */
export function loadPayloads(seed: number): (i: number) => string {
  const created = new Date(Date.UTC(2025, 0, 1) + (seed % 1000) * 1000).toISOString();
  const validUntil = new Date(Date.parse(created) + 365 * 86_400_000 * 5).toISOString();
  const templates = KINDS.map((kind) => {
    const value = '@@V@@';
    const observable = kind.stixType === 'file' ? { type: kind.octiType, hashes: { 'SHA-256': value } } : { type: kind.octiType, value };
    const json = JSON.stringify({
      version: '4',
      type: 'create',
      scope: 'external',
      message: `creates a Indicator \`${value}\``,
      origin: { socket: 'query', user_id: OPENCTI_ADMIN_UUID },
      data: {
        id: 'indicator--@@ID@@',
        spec_version: '2.1',
        type: 'indicator',
        created,
        modified: created,
        name: value,
        description: 'Load-mode indicator',
        pattern: kind.pattern,
        pattern_type: 'stix',
        pattern_version: '2.1',
        valid_from: created,
        valid_until: validUntil,
        indicator_types: ['malicious-activity'],
        revoked: false,
        confidence: 80,
        labels: ['load'],
        object_marking_refs: [TLP_MARKINGS['TLP:GREEN']],
        extensions: {
          [OCTI_EXT]: {
            extension_type: 'property-extension',
            id: '@@IID@@',
            type: 'Indicator',
            created_at: created,
            updated_at: created,
            is_inferred: false,
            creator_ids: [OPENCTI_ADMIN_UUID],
            score: 75,
            detection: true,
            main_observable_type: kind.octiType,
            observable_values: [observable],
          },
        },
      },
    });
    return json.split(/@@(V|ID|IID)@@/);
  });
  return (i) => {
    const k = i % KINDS.length;
    const parts = templates[k]!;
    const value = KINDS[k]!.value(i);
    const id = uuidFor('00000000', i);
    const iid = uuidFor('10000000', i);
    let out = parts[0]!;
    for (let p = 1; p < parts.length; p += 2) {
      const name = parts[p];
      out += (name === 'V' ? value : name === 'ID' ? id : iid) + parts[p + 1]!;
    }
    return out;
  };
}
