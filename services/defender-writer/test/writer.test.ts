// The writer end to end: real Kafka broker, Defender emulator over real HTTP (msal token flow).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { DefenderEmulator } from '@octi-defender/emulators';
import { encodeCommand } from '@octi-defender/indicators';
import { createKafka } from '@octi-defender/kafka';
import { requireBrokers } from '@octi-defender/kafka/testing';
import {
  CLIENT_ID,
  SECRET,
  committedOffsets,
  spawnWriter,
  createCommandsTopic,
  down,
  emulator,
  gauge,
  groupLag,
  ip,
  maxInWindow,
  ours,
  publish,
  publishRaw,
  readDlq,
  stateSnapshot,
  virtualClock,
  startWriter,
  uniqueTopics,
  up,
  waitFor,
  writerEnv,
  writes,
} from './harness.ts';

let emu: DefenderEmulator;

async function deleteById(e: DefenderEmulator, id: string): Promise<void> {
  // Out-of-band delete (an admin in the portal): the emulator's API, with its own token.
  const tok = await fetch(e.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: CLIENT_ID, client_secret: SECRET, scope: 'https://api.securitycenter.microsoft.com/.default' }),
  });
  const { access_token: token } = (await tok.json()) as { access_token: string };
  const res = await fetch(`${e.url}/api/indicators/${id}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
  assert.ok(res.ok, `delete ${id}: ${res.status}`);
}
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
      // The three partitions' batches are delivered together and sent in one plan: full chunks.
      assert.equal(imports.calls, Math.ceil(n / 500), `import calls ${imports.calls} for ${n} indicators`);
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

  test('two sources on one value: retracting one keeps it, both deletes it; others’ indicators untouched, also by the reconciler', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 2);
    const foreign = emu.seedIndicators(
      [{ indicatorValue: ip(500), indicatorType: 'IpAddress', action: 'Block', title: 'x', description: 'x', application: 'OpenCTI Defender Sync', severity: 'High', generateAlert: true }],
      { clientId: 'other' },
    );
    const w = await startWriter(writerEnv(emu, t));
    try {
      await publish(t, [up('src-a', ip(1)), up('src-b', ip(1)), up('src-a', ip(2))]);
      await waitFor('both in Defender', () => ours(emu).length === 2);
      await publish(t, [down('src-a', ip(1))]);
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      assert.deepEqual(ours(emu), [`${ip(1)}:Block`, `${ip(2)}:Block`]);
      await publish(t, [down('src-b', ip(1))]);
      await waitFor('deleted', () => ours(emu).length === 1);
      assert.deepEqual(ours(emu), [`${ip(2)}:Block`]);
      // Reconciler: delete ours by hand (missing), seed an orphan of ours on an owned partition.
      const mine = emu.indicators().find((i) => i.createdBy === CLIENT_ID);
      assert.ok(mine);
      const orphan = emu.seedIndicators(
        [{ indicatorValue: ip(77), indicatorType: 'IpAddress', action: 'Block', title: 'o', description: 'o', application: 'OpenCTI Defender Sync', severity: 'High', generateAlert: true }],
        { clientId: CLIENT_ID },
      );
      await deleteById(emu, mine.id);
      const drift = await w.writer.reconcile();
      assert.ok(drift);
      assert.deepEqual(drift.missing, [`IpAddress:${ip(2)}`]);
      assert.deepEqual(drift.orphaned.map((o) => o.id), orphan.map((o) => o.id));
      assert.deepEqual(ours(emu), [`${ip(2)}:Block`]);
      const again = await w.writer.reconcile();
      assert.equal(again?.missing.length, 0);
      assert.equal(again?.orphaned.length, 0);
      const other = emu.indicators().filter((i) => i.createdBy === 'other');
      assert.deepEqual(other, foreign, 'the other application’s indicator is unchanged');
    } finally {
      await w.stop();
    }
  });

  test('the cap: with MAX_INDICATORS=K exactly the K strongest are in Defender', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    const w = await startWriter(writerEnv(emu, t, { MICROSOFT_DEFENDER_INTEL_MAX_INDICATORS: '5' }));
    try {
      const cmds = Array.from({ length: 12 }, (_, i) => up('src-a', ip(i + 1), 60 + i * 3));
      await publish(t, cmds.slice(0, 6));
      await waitFor('first five', () => ours(emu).length === 5);
      await publish(t, cmds.slice(6));
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      await waitFor('the five strongest', () => ours(emu).join() === [8, 9, 10, 11, 12].map((i) => `${ip(i)}:Block`).sort().join());
      await publish(t, [down('src-a', ip(12))]);
      await waitFor('the next strongest re-admitted', () => ours(emu).join() === [7, 8, 9, 10, 11].map((i) => `${ip(i)}:Block`).sort().join());
    } finally {
      await w.stop();
    }
  });

  test('a backlog is synced once caught up: the K strongest land with the minimum of calls, nothing imported then deleted', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 2);
    const n = 3000;
    const k = 400;
    // Scores in a scrambled order, so that strong keys keep arriving until the end of the backlog.
    const cmds = Array.from({ length: n }, (_, i) => up('src-a', ip(i + 1), (i * 37) % 101));
    await publish(t, cmds);
    const w = await startWriter(writerEnv(emu, t, { MICROSOFT_DEFENDER_INTEL_MAX_INDICATORS: String(k), WRITER_CATCH_UP_LAG: '100', WRITER_FETCH_BYTES_PER_PARTITION: '65536' }));
    try {
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      // The K strongest by score (ties at the boundary go by event time, then key). The last
      // batches may be folded under the quota: committed first, sent once it allows.
      const score = new Map(cmds.map((_, i) => [ip(i + 1), (i * 37) % 101]));
      const strongest = (): boolean => {
        const held = new Set(ours(emu).map((x) => x.split(':')[0] ?? ''));
        const weakestHeld = Math.min(...[...held].map((v) => score.get(v) ?? -1));
        const strongestLeft = Math.max(...[...score].filter(([v]) => !held.has(v)).map(([, sc]) => sc));
        return held.size === k && weakestHeld >= strongestLeft;
      };
      await waitFor('the cap filled with the K strongest', strongest);
      const stats = emu.stats();
      // Catching up lasts until each partition is within a tenth of the bound: the last batches are
      // planned with the sync, so no key is imported and then evicted.
      assert.equal(stats.import.items, k, `${stats.import.items} indicators sent for ${k} held`);
      assert.equal(stats.batchDelete.calls, 0, `${stats.batchDelete.calls} BatchDelete calls`);
      assert.ok(w.lines.some((l) => l.includes('caught up with the backlog')));
    } finally {
      await w.stop();
    }
  });

  test('dry run sends no write and logs the plan', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    const w = await startWriter(writerEnv(emu, t, { MICROSOFT_DEFENDER_INTEL_PASSIVE_ONLY: 'true' }));
    try {
      await publish(t, [up('src-a', ip(1)), up('src-a', ip(2))]);
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      assert.equal(writes(emu), 0);
      assert.equal(emu.indicators().length, 0);
      assert.ok(w.lines.some((l) => l.includes('dry run: Defender request not sent') && l.includes(ip(2))));
      assert.ok(w.lines.some((l) => l.includes('dry run: plan')));
    } finally {
      await w.stop();
    }
  });

  test('two writers split the partitions; when one stops the other takes over with the restored state', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 4);
    const a = await startWriter(writerEnv(emu, t));
    const b = await startWriter(writerEnv(emu, t));
    try {
      await waitFor('partitions split', () => a.writer.ownedPartitions().size === 2 && b.writer.ownedPartitions().size === 2);
      const cmds = Array.from({ length: 200 }, (_, i) => up('src-a', ip(i + 1)));
      await publish(t, cmds);
      await waitFor('all in Defender', () => ours(emu).length === 200);
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      const importsBefore = emu.stats().import.calls;
      await a.stop();
      await waitFor('b owns everything', () => b.writer.ownedPartitions().size === 4);
      await publish(t, [...cmds.slice(0, 100), ...Array.from({ length: 100 }, (_, i) => down('src-a', ip(i + 101)))]);
      await waitFor('retracts applied', () => ours(emu).length === 100);
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      assert.deepEqual(ours(emu), Array.from({ length: 100 }, (_, i) => `${ip(i + 1)}:Block`).sort());
      // Re-asserting unchanged indicators cost nothing; the deletes are BatchDelete calls only.
      assert.equal(emu.stats().import.calls, importsBefore, 'restored state: re-asserted indicators cost no import');
      assert.ok(emu.stats().batchDelete.items >= 100);
    } finally {
      await a.stop();
      await b.stop();
    }
  });

  test('a Defender outage opens the breaker and pauses consumption; nothing is committed while it lasts, then Defender converges exactly', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 2);
    const w = await startWriter(writerEnv(emu, t));
    try {
      await publish(t, [up('src-a', ip(1)), up('src-a', ip(2))]);
      await waitFor('first indicators', () => ours(emu).length === 2);
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      const before = await stateSnapshot(t);
      emu.faults({ type: 'status', status: 503, endpoints: ['import', 'batchDelete'] });
      const cmds = [...Array.from({ length: 40 }, (_, i) => up('src-a', ip(i + 10))), down('src-a', ip(1))];
      await publish(t, cmds);
      await waitFor('breaker open', () => w.client.breakerState === 'open');
      await waitFor('consumption paused', async () => (await gauge(w.registry, 'octi_writer_paused')) === 1);
      // A batch folded into the state before a call failed (the quota held its import back) may be
      // committed; from the failure on, nothing moves.
      const committed = await committedOffsets(t);
      const state = await stateSnapshot(t);
      // Several half-open probes (reset 500 ms) fail meanwhile.
      const failedBefore = emu.requests('import').filter((r) => r.status === 503).length;
      await waitFor('more failed probes', () => emu.requests('import').filter((r) => r.status === 503).length >= failedBefore + 2, 10_000);
      assert.deepEqual(await committedOffsets(t), committed, 'no offset committed while Defender fails');
      assert.deepEqual(await stateSnapshot(t), state, 'the state topic has not advanced');
      assert.deepEqual(ours(emu), [`${ip(1)}:Block`, `${ip(2)}:Block`]);
      assert.equal(w.writer.ready().ok, true, 'readiness does not depend on the breaker');
      emu.clearFaults();
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      const expected = [2, ...Array.from({ length: 40 }, (_, i) => i + 10)].map((i) => `${ip(i)}:Block`).sort();
      await waitFor('converged', () => ours(emu).join() === expected.join());
      assert.equal(new Set(emu.indicators().map((i) => i.indicatorValue)).size, emu.indicators().length, 'no duplicates');
      assert.equal(await gauge(w.registry, 'octi_writer_paused'), 0);
      assert.notDeepEqual(await stateSnapshot(t), before);
    } finally {
      await w.stop();
    }
  });

  test('429 storms: Retry-After is honoured and everything converges', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    // The writer and the emulator share a virtual clock: the imports below come faster than 2 a
    // second however slow the machine, and Retry-After is waited in the same time.
    const clock = virtualClock();
    const limited = await emulator({ rateLimits: { import: [{ limit: 2, windowMs: 1000 }] }, clock: () => clock.now(), startTime: Date.now() });
    try {
      // The client's own budget is loose (4/s) so the emulator's 2/s answers 429; delays up to 5 s, and
      // a breaker reset longer than Retry-After so that no half-open probe comes early.
      const w = await startWriter(
        writerEnv(limited, t, { DEFENDER_QUOTA_IMPORT_PER_MINUTE: '240', DEFENDER_HTTP_MAX_RETRIES: '5', DEFENDER_RETRY_MAX_MS: '5000', DEFENDER_BREAKER_RESET_MS: '3000' }),
        { clock },
      );
      try {
        await waitFor('partition assigned', () => w.writer.ready().ok);
        // One command at a time, each waiting for its import request: more than 2 imports a second.
        for (let i = 0; i < 8; i++) {
          await publish(t, [up('src-a', ip(i + 1))]);
          await waitFor(`import request ${i + 1}`, () => limited.requests('import').length > i);
        }
        await waitFor('converged', () => ours(limited).length === 8);
        await waitFor('committed', async () => (await groupLag(t)) === 0n);
        assert.deepEqual(ours(limited), Array.from({ length: 8 }, (_, i) => `${ip(i + 1)}:Block`).sort());
        const imports = limited.requests('import');
        assert.ok(imports.every((r) => r.status === 200 || r.status === 429), JSON.stringify(imports.map((r) => r.status)));
        assert.ok(imports.some((r) => r.status === 429), 'the storm happened');
        assert.equal(imports.filter((r) => r.status === 200).reduce((n, r) => n + (r.items ?? 0), 0), 8, 'each indicator accepted once');
        // Retry-After is 1 s here: no import follows a 429 sooner.
        for (let i = 0; i + 1 < imports.length; i++) {
          const a = imports[i];
          const b = imports[i + 1];
          if (a?.status !== 429 || !b) continue;
          const gap = Date.parse(b.time) - Date.parse(a.time);
          assert.ok(gap >= 1000, `import ${b.seq} came ${gap} ms after the 429 of ${a.seq}`);
        }
      } finally {
        await w.stop();
      }
    } finally {
      await limited.close();
    }
  });

  test('a crash (SIGKILL) after Defender received the import and before the commit: the restarted writer converges, each indicator once', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    const n = 50;
    await publish(t, Array.from({ length: n }, (_, i) => up('src-a', ip(i + 1))));
    const env = writerEnv(emu, t);
    const first = spawnWriter(env);
    const exited = once(first.child, 'exit');
    try {
      // The emulator runs in this process: the kill goes out in the event-loop turn after it answered the
      // import, while the child still has to read the answer and run its Kafka transaction.
      await new Promise<void>((resolve, reject) => {
        const deadline = Date.now() + 30_000;
        const poll = (): void => {
          if (emu.requests('import').some((r) => r.status === 200)) {
            first.child.kill('SIGKILL');
            resolve();
          } else if (Date.now() > deadline || first.child.exitCode !== null) reject(new Error(`no import seen:\n${first.output.join('')}`));
          else setImmediate(poll);
        };
        poll();
      });
    } finally {
      first.child.kill('SIGKILL');
      await exited;
    }
    assert.equal(ours(emu).length, n, 'Defender holds the import');
    assert.deepEqual(await committedOffsets(t), ['0:-'], 'the crash came before the commit');
    assert.deepEqual(Object.keys(await stateSnapshot(t)), [], 'no state was written');
    const importsBefore = emu.stats().import.items;
    const second = spawnWriter(env);
    const exited2 = once(second.child, 'exit');
    try {
      await waitFor('committed after restart', async () => (await groupLag(t)) === 0n, 60_000);
      const values = emu.indicators().filter((i) => i.createdBy === CLIENT_ID).map((i) => i.indicatorValue);
      assert.equal(values.length, n, 'no duplicates');
      assert.deepEqual(ours(emu), Array.from({ length: n }, (_, i) => `${ip(i + 1)}:Block`).sort(), 'nothing missing');
      assert.equal(emu.stats().import.items, importsBefore + n, 'the replay re-imported the uncommitted batch (an upsert)');
    } catch (err) {
      throw new Error(`${String(err)}\n${second.output.join('')}`, { cause: err });
    } finally {
      second.child.kill('SIGTERM');
      await exited2;
    }
    assert.equal(second.child.exitCode, 0, second.output.join(''));
  });

  test('a batch folded while the quota holds the import back is committed; killed before the call, the restarted writer sends it, each indicator once', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    // Two imports a minute: after one, the next goes half a minute later, and batches fold meanwhile.
    const env = writerEnv(emu, t, { DEFENDER_QUOTA_IMPORT_PER_MINUTE: '2' });
    const first = spawnWriter(env);
    const exited = once(first.child, 'exit');
    try {
      await publish(t, [up('src-a', ip(1), 80), up('src-a', ip(2), 80)]);
      await waitFor('first import', () => ours(emu).length === 2);
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      // An action flip, a new value and a delete, folded: committed with nothing sent.
      await publish(t, [up('src-a', ip(1), 20), up('src-a', ip(3), 80), down('src-a', ip(2))]);
      await waitFor('folded and committed', async () => (await groupLag(t)) === 0n);
      assert.deepEqual(ours(emu), [`${ip(1)}:Block`, `${ip(2)}:Block`], 'nothing sent for the folded batch');
      assert.equal(emu.stats().import.calls, 1);
      assert.equal(emu.stats().batchDelete.calls, 0);
    } catch (err) {
      throw new Error(`${String(err)}\n${first.output.join('')}`, { cause: err });
    } finally {
      first.child.kill('SIGKILL');
      await exited;
    }
    const w = await startWriter(writerEnv(emu, t));
    try {
      await waitFor('converged after the restart', () => ours(emu).join() === [`${ip(1)}:Warn`, `${ip(3)}:Block`].sort().join());
      assert.equal(emu.indicators().filter((i) => i.createdBy === CLIENT_ID).length, 2, 'no leftover, no duplicate');
      assert.equal(emu.stats().import.items, 4, 'each change imported once');
    } catch (err) {
      throw new Error(`${String(err)} ${JSON.stringify(ours(emu))}\n${w.lines.join('')}`, { cause: err });
    } finally {
      await w.stop();
    }
  });

  test('the observed import rate never exceeds the budget (30 per emulated minute) under sustained demand, with no 429', async () => {
    // The writer (default 30/min) and the emulator (its documented limits) share a virtual clock: a
    // minute passes when the writer waits for its budget, so the emulator counts the writer's own
    // pace, not how the machine's load bunched requests up in transit.
    const clock = virtualClock();
    const fast = await emulator({ rateLimits: true, clock: () => clock.now(), startTime: Date.now() });
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    const w = await startWriter(writerEnv(fast, t, { DEFENDER_HTTP_MAX_RETRIES: '5', DEFENDER_RETRY_MAX_MS: '10000' }), { clock });
    const kafka = createKafka({ brokers: requireBrokers(), clientId: 'writer-test-producer' });
    const n = 280;
    try {
      const p = await kafka.producer();
      // One command every 25 ms for 7 s: far more batches than 30 imports a minute.
      for (let i = 0; i < n; i++) {
        const c = up('src-a', ip(i + 1));
        await p.send([{ topic: t.commands, key: c.key, value: encodeCommand(c) }]);
        await new Promise((r) => setTimeout(r, 25));
      }
      await p.close();
      await waitFor('converged', () => ours(fast).length === n, 60_000);
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      const imports = fast.requests('import');
      const most = maxInWindow(imports.map((r) => Date.parse(r.time)), 60_000);
      assert.ok(imports.length > 30, `the budget was binding (${imports.length} import calls)`);
      assert.ok(most <= 30, `${most} import calls in one emulated minute`);
      assert.deepEqual(imports.filter((r) => r.status !== 200).map((r) => r.status), [], 'no 429');
    } finally {
      await kafka.close();
      await w.stop();
      await fast.close();
    }
  });

  test('an import Defender refuses as a whole because of one item: the others land, that one is dead-lettered, the partition moves on', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    const bad = ip(7);
    // As a malformed item would: every import carrying this value is answered 400 as a whole.
    emu.faults({ type: 'status', status: 400, endpoints: ['import'], bodyIncludes: `"${bad}"`, message: 'Invalid indicator value.' });
    await publish(t, Array.from({ length: 12 }, (_, i) => up('src-a', ip(i + 1))));
    const w = await startWriter(writerEnv(emu, t));
    try {
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      assert.deepEqual(ours(emu), Array.from({ length: 12 }, (_, i) => ip(i + 1)).filter((v) => v !== bad).map((v) => `${v}:Block`).sort());
      const dlq = (await readDlq(t)).filter((d) => d.reason === 'defender_rejected');
      assert.equal(dlq.length, 1);
      assert.equal(dlq[0]?.key, `IpAddress:${bad}`);
      assert.match(String(dlq[0]?.detail), /400 BadRequest: Invalid indicator value/);
      assert.equal(w.writer.state(`IpAddress:${bad}`)?.applied, undefined);
      // Once refused, the same version is not sent again: a replay costs nothing.
      const refused = emu.requests('import').filter((r) => r.status === 400).length;
      assert.ok(refused >= 2, `the batch was split (${refused} refused calls)`);
      const calls = writes(emu);
      await publish(t, [up('src-a', ip(7)), up('src-b', ip(1))]);
      await waitFor('committed again', async () => (await groupLag(t)) === 0n);
      assert.equal(emu.requests('import').filter((r) => r.status === 400).length, refused, 'the refused version is not sent again');
      assert.ok(writes(emu) - calls <= 1);
    } finally {
      await w.stop();
    }
  });

  test('a value claimed by more sources than one state record holds: the weakest claims are dead-lettered, the partition moves on', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    const value = ip(1);
    await publish(t, Array.from({ length: 1500 }, (_, i) => up(`src-${i}`, value, i % 100)));
    const w = await startWriter(writerEnv(emu, t));
    try {
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
      assert.deepEqual(ours(emu), [`${value}:Block`]);
      const kept = w.writer.state(`IpAddress:${value}`)?.claims.length ?? 0;
      assert.ok(kept > 100 && kept < 1500, `${kept} claims kept`);
      const letters = (await readDlq(t)).filter((d) => d.reason === 'too_many_claims');
      assert.equal(letters[0]?.key, `IpAddress:${value}`);
    } finally {
      await w.stop();
    }
  });

  test('closing during a long Retry-After returns promptly without committing; the next writer converges', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    emu.faults({ type: 'status', status: 429, endpoints: ['import'], retryAfterSec: 120, calls: 1 });
    await publish(t, [up('src-a', ip(1)), up('src-a', ip(2))]);
    const env = writerEnv(emu, t, { DEFENDER_HTTP_MAX_RETRIES: '5', DEFENDER_RETRY_MAX_MS: '120000', SHUTDOWN_TIMEOUT_MS: '3000' });
    const w = await startWriter(env);
    await waitFor('the 429 answered', () => emu.requests('import').some((r) => r.status === 429));
    const started = Date.now();
    await w.stop();
    // The one bound load cannot break: it did not wait out the 120 s Retry-After.
    assert.ok(Date.now() - started < 120_000, `close took ${Date.now() - started} ms`);
    assert.deepEqual(ours(emu), []);
    assert.equal(await groupLag(t), 2n, 'nothing committed');
    const next = await startWriter(env);
    try {
      await waitFor('converged', () => ours(emu).length === 2);
      await waitFor('committed', async () => (await groupLag(t)) === 0n);
    } finally {
      await next.stop();
    }
  });

  test('a member that joins the group without a partition is ready (more replicas than partitions)', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    const a = await startWriter(writerEnv(emu, t));
    try {
      await waitFor('a ready', () => a.writer.ready().ok);
      const b = await startWriter(writerEnv(emu, t));
      try {
        await waitFor('both ready', () => a.writer.ready().ok && b.writer.ready().ok, 30_000);
        await waitFor('one owner', () => a.writer.ownedPartitions().size + b.writer.ownedPartitions().size === 1, 30_000);
        assert.ok([a, b].some((m) => m.writer.ownedPartitions().size === 0 && m.writer.ready().detail.startsWith('0 partition')));
      } finally {
        await b.stop();
      }
    } finally {
      await a.stop();
    }
  });
});
