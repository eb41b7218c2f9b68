// The writer's side of a resync against Kafka and the Defender emulator: at the end marker of an
// epoch, what the replay did not assert again is retracted; nothing without the begin.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DefenderEmulator } from '@octi-defender/emulators';
import { COMMAND_SCHEMA_VERSION, encodeCommand, encodeResyncMarker, type Command } from '@octi-defender/indicators';
import { createKafka, partitionForKey } from '@octi-defender/kafka';
import { requireBrokers } from '@octi-defender/kafka/testing';
import { createCommandsTopic, emulator, groupLag, ip, ours, publish, startWriter, uniqueTopics, up, waitFor, writerEnv, type Topics } from './harness.ts';

let emu: DefenderEmulator;
before(async () => {
  emu = await emulator();
});
after(() => emu.close());

const PARTITIONS = 2;

/** A marker copy per partition (header `op: resync`), then or before commands, in one send. */
async function send(t: Topics, items: ReadonlyArray<Command | { phase: 'begin' | 'end'; epoch: string }>): Promise<void> {
  const kafka = createKafka({ brokers: requireBrokers(), clientId: 'resync-test-producer' });
  try {
    const p = await kafka.producer();
    const records = items.flatMap((item) => {
      if ('op' in item) return [{ topic: t.commands, key: item.key, value: encodeCommand(item) }];
      return Array.from({ length: PARTITIONS }, (_, partition) => {
        let i = 0;
        while (partitionForKey(`resync:live:${item.epoch}:${i}`, PARTITIONS) !== partition) i++;
        const value = encodeResyncMarker({
          schemaVersion: COMMAND_SCHEMA_VERSION,
          op: 'resync',
          phase: item.phase,
          streamId: 'live',
          epoch: item.epoch,
          partition,
          partitions: PARTITIONS,
          reason: 'operator',
          at: new Date().toISOString(),
        });
        return { topic: t.commands, key: `resync:live:${item.epoch}:${i}`, value, headers: { op: 'resync' } };
      });
    });
    await p.send(records);
    await p.close();
  } finally {
    await kafka.close();
  }
}

test('at the end of a resync the writer retracts what the replay did not assert, and keeps the rest', async () => {
  const t = uniqueTopics();
  await createCommandsTopic(t, PARTITIONS);
  const w = await startWriter(writerEnv(emu, t));
  try {
    await publish(t, [up('src-a', ip(1)), up('src-b', ip(2)), up('src-c', ip(3)), up('src-d', ip(4))]);
    await waitFor('four in Defender', () => ours(emu).length === 4);
    // An end without its begin (a writer that joined mid-epoch) retracts nothing.
    await send(t, [{ phase: 'end', epoch: 'unseen' }]);
    await waitFor('committed', async () => (await groupLag(t)) === 0n);
    assert.equal(ours(emu).length, 4);
    // The replay asserts a and c again (with older event ids, as recover's are); b and d left the stream.
    await send(t, [{ phase: 'begin', epoch: 'e1' }, up('src-a', ip(1), 70, Date.now() - 60_000), up('src-c', ip(3), 70, Date.now() - 60_000), { phase: 'end', epoch: 'e1' }]);
    await waitFor('the stale ones deleted', () => ours(emu).length === 2);
    assert.deepEqual(ours(emu), [`${ip(1)}:Block`, `${ip(3)}:Block`]);
    assert.ok(w.lines.some((l) => l.includes('resync ended')));
  } finally {
    await w.stop();
  }
});
