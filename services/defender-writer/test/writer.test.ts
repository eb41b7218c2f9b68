// The writer end to end: real Kafka broker, Defender emulator over real HTTP (msal token flow).
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { DefenderEmulator } from '@octi-defender/emulators';
import { createCommandsTopic, emulator, groupLag, ip, ours, publish, publishRaw, readDlq, startWriter, uniqueTopics, up, waitFor, writerEnv, writes } from './harness.ts';

let emu: DefenderEmulator;
before(async () => {
  emu = await emulator();
});
after(() => emu.close());
beforeEach(() => emu.reset());

describe('defender-writer against Kafka and the Defender emulator', () => {
  test('replaying the same commands leaves Defender identical and costs no call; bad commands go to the DLQ', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 3);
    const n = 1200;
    const cmds = Array.from({ length: n }, (_, i) => up('src-a', ip(i + 1)));
    await publish(t, cmds);
    await publishRaw(t, [{ key: 'IpAddress:93.184.99.99', value: '{"not":"a command"}' }]);
    const w = await startWriter(writerEnv(emu, t));
    try {
      await waitFor('all indicators in Defender', () => ours(emu).length === n);
      await waitFor('offsets committed', async () => (await groupLag(t)) === 0n);
      const first = ours(emu);
      const calls = writes(emu);
      const imports = emu.stats().import;
      // Minimum: ceil(n/500) per partition's batch at best; batches are per partition (3 partitions).
      assert.ok(imports.calls <= Math.ceil(n / 500) + 3, `import calls ${imports.calls} for ${n} indicators`);
      assert.equal(imports.items, n, 'each indicator imported once');
      await publish(t, cmds);
      await waitFor('replay committed', async () => (await groupLag(t)) === 0n);
      assert.deepEqual(ours(emu), first);
      assert.equal(writes(emu), calls, 'the replay costs no Defender call');
      const dlq = await readDlq(t);
      assert.equal(dlq.length, 1);
      assert.equal(dlq[0]?.origin, 'defender-writer');
      assert.equal(dlq[0]?.reason, 'invalid_command');
    } finally {
      await w.stop();
    }
    // A fresh writer on the same group restores the state from the changelog: nothing to do.
    const calls = writes(emu);
    await publish(t, cmds.slice(0, 10));
    const w2 = await startWriter(writerEnv(emu, t));
    try {
      await waitFor('replay committed', async () => (await groupLag(t)) === 0n);
      assert.equal(ours(emu).length, n);
      assert.equal(writes(emu), calls, 'restored state: the replay costs no Defender call');
    } finally {
      await w2.stop();
    }
  });
});
