// Builders shared by the unit tests.
import type { ClaimCommand, IndicatorFacts } from '../src/core/facts.ts';
import type { IndicatorType } from '../src/defender/model.ts';
import { Safelist, type Policy } from '../src/core/policy.ts';

export const NOW = Date.parse('2026-03-10T12:00:00Z');
const eventId = (ms: number, seq = 0): string => `${ms}-${seq}`;

export function facts(over: Partial<IndicatorFacts> & { type?: IndicatorType; value?: string } = {}): IndicatorFacts {
  return {
    type: 'IpAddress',
    value: '203.0.113.7',
    name: null,
    description: null,
    score: 70,
    confidence: null,
    labels: [],
    markings: [],
    tlp: null,
    validFrom: null,
    validUntil: null,
    revoked: false,
    detection: true,
    createdBy: null,
    created: null,
    updated: null,
    ...over,
  };
}

export function policy(over: Partial<Policy> = {}): Policy {
  return {
    application: 'OpenCTI Defender Sync',
    scoreRules: [
      { min: 60, action: 'Block' },
      { min: 30, action: 'Audit' },
      { min: 1, action: 'Warn' },
      { min: 0, action: 'Audit' },
    ],
    minScore: 0,
    requireDetection: false,
    expireDays: 30,
    expireDaysByType: {},
    tlpNever: new Set(['TLP:RED']),
    tlpExpireDays: {},
    safelist: new Safelist([]),
    rbacGroupNames: [],
    generateAlert: true,
    titleMaxLength: 250,
    descriptionMaxLength: 99,
    ...over,
  };
}

const source = (id: string, at: number, seq = 0) => ({
  id,
  standardId: `indicator--${id}`,
  entityType: 'Indicator',
  streamId: 'live',
  eventId: eventId(at, seq),
  eventName: 'create' as const,
});

export function upsert(id: string, f: IndicatorFacts, at = NOW - 1000, seq = 0): ClaimCommand {
  return { schemaVersion: 1, op: 'upsert', key: `${f.type}:${f.value}`, source: source(id, at, seq), facts: f };
}

export function retract(id: string, key: string, at = NOW, seq = 0): ClaimCommand {
  return { schemaVersion: 1, op: 'retract', key, source: { ...source(id, at, seq), eventName: 'delete' }, reason: 'deleted' };
}
