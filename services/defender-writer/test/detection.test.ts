// Detection as the tenant's policy, end to end: real Kafka broker, Defender emulator over real HTTP.
// OpenCTI stores detection=false unless someone sets it, so the listener carries the flag as a fact
// and DEFENDER_REQUIRE_DETECTION decides.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DefenderEmulator } from '@octi-defender/emulators';
import type { Command } from '@octi-defender/indicators';
import { createCommandsTopic, emulator, groupLag, ip, ours, publish, startWriter, uniqueTopics, up, waitFor, writerEnv } from './harness.ts';

let emu: DefenderEmulator;
before(async () => {
  emu = await emulator();
});
after(() => emu.close());

const withDetection = (c: Command, detection: boolean | null): Command => (c.op === 'upsert' ? { ...c, facts: { ...c.facts, detection } } : c);

test('detection=false is sent by default and withheld with DEFENDER_REQUIRE_DETECTION=true, which a restart applies to what Defender holds', async () => {
  const t = uniqueTopics();
  await createCommandsTopic(t, 2);
  const [off, on, none] = [ip(1), ip(2), ip(3)];
  await publish(t, [withDetection(up('src-off', off), false), withDetection(up('src-on', on), true), withDetection(up('src-obs', none), null)]);

  const lenient = await startWriter(writerEnv(emu, t));
  try {
    await waitFor('three indicators in Defender', () => ours(emu).length === 3);
    await waitFor('offsets committed', async () => (await groupLag(t)) === 0n);
    assert.deepEqual(ours(emu), [`${off}:Block`, `${on}:Block`, `${none}:Block`].sort());
  } finally {
    await lenient.stop();
  }

  // Same group and state: the restored state is re-planned under the stricter policy.
  const strict = await startWriter(writerEnv(emu, t, { DEFENDER_REQUIRE_DETECTION: 'true' }));
  try {
    await waitFor('the detection=false indicator removed', () => ours(emu).length === 2);
    assert.deepEqual(ours(emu), [`${on}:Block`, `${none}:Block`].sort());
    // A new claim with detection=false is not sent; one that turns detection on is.
    await publish(t, [withDetection(up('src-new', ip(4)), false), withDetection(up('src-off', off), true)]);
    await waitFor('offsets committed', async () => (await groupLag(t)) === 0n);
    await waitFor('the re-enabled indicator back', () => ours(emu).length === 3);
    assert.deepEqual(ours(emu), [`${off}:Block`, `${on}:Block`, `${none}:Block`].sort());
  } finally {
    await strict.stop();
  }
});
