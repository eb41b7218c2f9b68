// `status --keys`: the configured tenant's keys by where they stand, from its state topic (the
// writer's changelog) and its policy: in Defender, not sent by policy (by reason), refused by
// Defender, or waiting (over the cap, or held back because another creator holds the value).
import { policyFromConfig, type WriterConfig } from '@octi-defender/defender-writer/config';
import { desiredFor } from '@octi-defender/defender-writer/core/desired';
import { decodeState } from '@octi-defender/defender-writer/core/state-codec';
import type { Kafka } from '@octi-defender/kafka';

export interface KeyCounts {
  readonly inDefender: number;
  readonly waiting: number;
  readonly rejected: number;
  readonly policy: Readonly<Record<string, number>>;
}

/** The writer's bookkeeping records in its state topic (applied offsets), not keys. */
const BOOKKEEPING = '__writer__/';

type Standing = 'in' | 'waiting' | 'rejected' | `policy:${string}`;

/** Where one key's state stands under `policy` now; undefined for a key without claims. */
export function standing(text: string, c: WriterConfig, now: number, policy = policyFromConfig(c)): Standing | undefined {
  const s = decodeState(text);
  if (s.applied) return 'in';
  if (s.claims.length === 0) return undefined;
  const d = desiredFor(s.claims, policy, now);
  if (!d.present) return `policy:${d.reason}`;
  return d.hash === s.rejectedHash ? 'rejected' : 'waiting';
}

export async function countKeys(kafka: Kafka, c: WriterConfig, now: number): Promise<KeyCounts> {
  const policy = policyFromConfig(c);
  const byKey = new Map<string, Standing>();
  await kafka.scanCompacted(c.stateTopic, (key, r) => {
    if (key.startsWith(BOOKKEEPING)) return;
    const st = r.value === null ? undefined : standing(r.value.toString('utf8'), c, now, policy);
    if (st === undefined) byKey.delete(key);
    else byKey.set(key, st);
  });
  let inDefender = 0;
  let waiting = 0;
  let rejected = 0;
  const policyCounts: Record<string, number> = {};
  for (const st of byKey.values()) {
    if (st === 'in') inDefender++;
    else if (st === 'waiting') waiting++;
    else if (st === 'rejected') rejected++;
    else policyCounts[st.slice('policy:'.length)] = (policyCounts[st.slice('policy:'.length)] ?? 0) + 1;
  }
  return { inDefender, waiting, rejected, policy: policyCounts };
}
