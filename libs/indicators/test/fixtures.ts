// Payloads shaped like OpenCTI v4 live-stream events (the README, "Event normalization").
import type { RetractCommand, StreamEvent, StreamEventName, UpsertCommand } from '../src/index.ts';

export const OCTI = 'extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba';
export const SCO = 'extension-definition--f93e2c80-4231-4f9a-af8b-95c9bd566a82';

/**
 * Genuinely public unicast addresses (well-known public DNS resolvers), for tests that need an
 * address the validation accepts. 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32
 * are documentation ranges and are rejected as reserved.
 */
export const PUBLIC_IPV4 = ['8.8.8.8', '1.1.1.1', '9.9.9.9', '208.67.222.222', '64.6.64.6', '185.228.168.9'] as const;
export const PUBLIC_IPV6 = ['2001:4860:4860::8888', '2606:4700:4700::1111', '2620:fe::fe', '2a00:1450:4001:81c::200e'] as const;

export const SHA256 = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f';
export const SHA1 = '2fd4e1c67a2d28fced849ee1bb76e7391b93eb12';
export const MD5 = '79054025255fb1a26e4bc422aef54eb4';

export const TLP_GREEN = 'marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da';
export const TLP_AMBER = 'marking-definition--f88d31f6-486f-44da-b317-01333bde0b82';
export const TLP_AMBER_STRICT = 'marking-definition--826578e1-40ad-459f-bc73-ede076f81f37';

export const NOW = new Date('2026-03-01T12:00:00.000Z');

type Stix = Record<string, unknown>;

export function indicator(pattern: string, overrides: Stix = {}, octi: Stix = {}): Stix {
  return {
    id: 'indicator--c1f1a9e4-3c58-5d1b-9f9c-9d0b0c1e8a11',
    spec_version: '2.1',
    type: 'indicator',
    created: '2026-01-10T08:00:00.000Z',
    modified: '2026-02-01T09:30:00.000Z',
    name: 'C2 server',
    description: 'Cobalt Strike team server',
    pattern,
    pattern_type: 'stix',
    pattern_version: '2.1',
    valid_from: '2026-01-10T08:00:00.000Z',
    valid_until: '2026-07-10T08:00:00.000Z',
    indicator_types: ['malicious-activity'],
    revoked: false,
    confidence: 85,
    labels: ['c2', 'cobalt-strike'],
    object_marking_refs: [TLP_AMBER],
    created_by_ref: 'identity--7b82b010-b1c0-4dae-981f-7756374a17df',
    extensions: {
      [OCTI]: {
        extension_type: 'property-extension',
        id: '5f0a0d55-3a52-4d4c-8c40-7e1c9b0c2a01',
        type: 'Indicator',
        created_at: '2026-01-10T08:00:01.000Z',
        updated_at: '2026-02-01T09:30:01.000Z',
        is_inferred: false,
        score: 80,
        detection: true,
        main_observable_type: 'IPv4-Addr',
        ...octi,
      },
    },
    ...overrides,
  };
}

export function observable(type: string, fields: Stix, octiType: string, sco: Stix = {}): Stix {
  return {
    id: `${type}--0b8e4f0a-6d7f-5b7e-8a44-2f1a3c4d5e6f`,
    spec_version: '2.1',
    type,
    ...fields,
    object_marking_refs: [TLP_GREEN],
    extensions: {
      [OCTI]: {
        extension_type: 'property-extension',
        id: 'a1b2c3d4-0000-4000-8000-00000000000' + String(type.length % 10),
        type: octiType,
        created_at: '2026-01-05T10:00:00.000Z',
        updated_at: '2026-01-06T10:00:00.000Z',
        is_inferred: false,
      },
      [SCO]: {
        extension_type: 'property-extension',
        score: 65,
        description: 'seen in phishing',
        labels: ['phishing'],
        created_by_ref: 'identity--7b82b010-b1c0-4dae-981f-7756374a17df',
        ...sco,
      },
    },
  };
}

export function event(name: StreamEventName, data: Stix, payloadType: string = name, context?: Stix, id = '1767225600000-0'): StreamEvent {
  return {
    streamId: 'live-defender',
    id,
    name,
    data: {
      version: '4',
      type: payloadType,
      scope: 'external',
      message: `${payloadType}s an entity`,
      origin: { user_id: '88ec0c6a-13ce-5e39-b486-354fe4a7084f' },
      data,
      ...(context === undefined ? {} : { context }),
    },
  };
}

/** A valid command of each op, for the command schema's tests. */
export const COMMAND_SOURCE = {
  id: '5f0a0d55-3a52-4d4c-8c40-7e1c9b0c2a01',
  standardId: 'indicator--c1f1a9e4-3c58-5d1b-9f9c-9d0b0c1e8a11',
  entityType: 'Indicator',
  streamId: 'live-defender',
  eventId: '1767225600000-0',
  eventName: 'create',
} as const;

export const UPSERT: UpsertCommand = {
  schemaVersion: 1,
  op: 'upsert',
  key: `FileSha256:${SHA256}`,
  source: COMMAND_SOURCE,
  facts: {
    type: 'FileSha256',
    value: SHA256,
    name: 'Dropper',
    description: 'ünïcödé ✓',
    score: 80,
    confidence: 85,
    labels: ['malware'],
    markings: ['TLP:AMBER'],
    tlp: 'TLP:AMBER',
    validFrom: '2026-01-10T08:00:00.000Z',
    validUntil: null,
    revoked: false,
    detection: true,
    createdBy: 'identity--7b82b010-b1c0-4dae-981f-7756374a17df',
    created: '2026-01-10T08:00:01.000Z',
    updated: '2026-02-01T09:30:01.000Z',
  },
};

export const RETRACT: RetractCommand = { schemaVersion: 1, op: 'retract', key: 'IpAddress:8.8.8.8', source: { ...COMMAND_SOURCE, eventName: 'delete' }, reason: 'deleted' };
