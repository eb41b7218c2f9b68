// Defender calls per 10,000 mixed changes, against the minimum and against one call per event (the
// official OpenCTI stream connector's way: every create, update and delete event is one API call).
// 6,000 indicators are synced first (not counted); then the changes arrive as a backlog while the
// writer runs: 4,000 creates, 3,000 score changes that flip the action (Block → Warn: Defender keys on
// value+type+action, so each is an import of the new indicator and a delete of the old one), 1,500
// deletes and 1,500 revocations, interleaved. Writer in process (test harness), quotas off, real broker
// and the Defender emulator over HTTP. The result is checked: Defender must hold exactly the expected set.
import { figure, size } from '../../../bench/lib.ts';
import { createCommandsTopic, down, emulator, groupLag, ip, ours, publish, startWriter, uniqueTopics, up, waitFor, writerEnv } from '../test/harness.ts';
import type { Command } from '@octi-defender/indicators';

const CHANGES = size('BENCH_CALL_CHANGES', 10_000, 10_000);
const creates = Math.round(CHANGES * 0.4);
const flips = Math.round(CHANGES * 0.3);
const deletes = Math.round(CHANGES * 0.15);
const revokes = CHANGES - creates - flips - deletes;
const BASE = flips + deletes + revokes;
const src = (i: number): string => `src-${i}`;

const emu = await emulator({ cap: 15_000, maxRequestLog: 100 });
const t = uniqueTopics();
await createCommandsTopic(t, 6);
const w = await startWriter(writerEnv(emu, t, { MICROSOFT_DEFENDER_INTEL_MAX_INDICATORS: '15000', DEFENDER_HTTP_MAX_RETRIES: '5' }));
try {
  await publish(t, Array.from({ length: BASE }, (_, i) => up(src(i), ip(i), 80)));
  await waitFor('base synced', async () => ours(emu).length === BASE && (await groupLag(t)) === 0n, 600_000);
  const before = emu.stats();

  const changes: Command[] = [];
  for (let j = 0; j < creates; j++) changes.push(up(src(BASE + j), ip(BASE + j), 80));
  for (let i = 0; i < flips; i++) changes.push(up(src(i), ip(i), 20));
  for (let i = flips; i < flips + deletes; i++) changes.push(down(src(i), ip(i)));
  for (let i = flips + deletes; i < BASE; i++) {
    const c = up(src(i), ip(i), 80);
    if (c.op === 'upsert') changes.push({ ...c, facts: { ...c.facts, revoked: true } });
  }
  // Interleaved deterministically (each key appears once, so the order between keys is free).
  let seed = 7;
  for (let i = changes.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    const k = seed % (i + 1);
    [changes[i], changes[k]] = [changes[k] as Command, changes[i] as Command];
  }
  await publish(t, changes);
  const expected = [...Array.from({ length: flips }, (_, i) => `${ip(i)}:Warn`), ...Array.from({ length: creates }, (_, j) => `${ip(BASE + j)}:Block`)].sort();
  await waitFor('changes synced', async () => (await groupLag(t)) === 0n && JSON.stringify(ours(emu)) === JSON.stringify(expected), 600_000);

  const after = emu.stats();
  const imports = after.import.calls - before.import.calls;
  const batchDeletes = after.batchDelete.calls - before.batchDelete.calls;
  const calls = imports + batchDeletes;
  const importItems = creates + flips;
  const deleteItems = flips + deletes + revokes;
  const minimum = Math.ceil(importItems / 500) + Math.ceil(deleteItems / 500);
  const perEvent = CHANGES;
  const note = `${
    CHANGES.toLocaleString('en-US')
  } changes (${creates} creates, ${flips} action flips, ${deletes} deletes, ${revokes} revocations) on 6,000 synced indicators, as a backlog; ${imports} imports + ${batchDeletes} BatchDeletes`;
  figure({
    section: 'calls',
    name: 'mixed changes: Defender calls',
    value: calls,
    unit: 'calls',
    target: `≤ 1.05 × minimum ${minimum}`,
    met: calls <= 1.05 * minimum,
    note: `${note}; minimum ceil(${importItems}/500) imports + ceil(${deleteItems}/500) BatchDeletes`,
  });
  figure({
    section: 'calls',
    name: 'mixed changes: one call per event ÷ ours',
    value: perEvent / calls,
    unit: '×',
    target: '≥ 50',
    met: perEvent / calls >= 50,
    note: `one call per event = ${perEvent.toLocaleString('en-US')} calls on the same sequence`,
  });
} finally {
  await w.stop();
  await emu.close();
}
