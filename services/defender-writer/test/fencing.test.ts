// Ownership and exactness across writers: a writer that lost its partition (evicted during a slow
// Defender call, or frozen like a long GC pause) never calls Defender or commits for it again; what a
// crashed writer sent but did not commit is repaired after the restart; writers sharing a host name
// do not fence each other. Real broker, Defender emulator over HTTP, src/main.ts as child processes.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, beforeEach, describe, test } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import type { DefenderEmulator, RecordedRequest } from '@octi-defender/emulators';
import { createKafka, partitionForKey } from '@octi-defender/kafka';
import { requireBrokers } from '@octi-defender/kafka/testing';
import { partitionTransactionalId } from '../src/tasks/partition-tasks.ts';
import { appliedOffsetKey } from '../src/tasks/restore.ts';
import { CLIENT_ID, createCommandsTopic, emulator, groupLag, ip, ours, publish, spawnWriter, startWriter, uniqueTopics, up, waitFor, writerEnv, type Topics } from './harness.ts';

let emu: DefenderEmulator;
before(async () => {
  emu = await emulator();
});
after(() => emu.close());
beforeEach(() => emu.reset());

/** Values (type + value) Defender holds more than once: must stay empty. */
function heldTwice(e: DefenderEmulator): string[] {
  const seen = new Map<string, number>();
  for (const i of e.indicators()) seen.set(`${i.indicatorType}:${i.indicatorValue}`, (seen.get(`${i.indicatorType}:${i.indicatorValue}`) ?? 0) + 1);
  return [...seen].filter(([, n]) => n > 1).map(([k, n]) => `${k} ×${n}`);
}

/** Every applied-offset record of `partition` in the changelog, in log order (a stale commit makes it go back). */
async function appliedOffsets(t: Topics, partition: number, partitions: number): Promise<bigint[]> {
  const kafka = createKafka({ brokers: requireBrokers(), clientId: 'writer-test-state' });
  const key = appliedOffsetKey(partition, partitions);
  const out: bigint[] = [];
  try {
    await kafka.scanCompacted(t.state, (k, r) => {
      if (k === key && r.value) out.push(BigInt((JSON.parse(r.value.toString('utf8')) as { next: string }).next));
    });
  } finally {
    await kafka.close();
  }
  return out;
}

function nonDecreasing(xs: readonly bigint[]): boolean {
  return xs.every((x, i) => i === 0 || x >= (xs[i - 1] ?? x));
}

const bodyText = (r: RecordedRequest): string => JSON.stringify(r.body ?? null);

/** Runs `act` in the event-loop turn after the emulator recorded a request matching `match` (the child has not read the answer yet). */
function whenRequest(child: ChildProcess, output: string[], match: (r: RecordedRequest) => boolean, act: () => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const deadline = Date.now() + 60_000;
    const poll = (): void => {
      if (emu.requests().some(match)) {
        act();
        resolve();
      } else if (Date.now() > deadline || child.exitCode !== null) reject(new Error(`request not seen:\n${output.join('')}`));
      else setImmediate(poll);
    };
    poll();
  });
}

async function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGCONT');
  child.kill(signal);
  await exited;
}

describe('writer ownership under faults', () => {
  test('a Defender call outlasting the session timeout: the owner keeps its partition, no other writer acts on it, nothing stale is committed', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    const env = writerEnv(emu, t, { DEFENDER_HTTP_TIMEOUT_MS: '60000' });
    const a = await startWriter(env);
    const b = await startWriter(env);
    try {
      await waitFor('one owner', () => a.writer.ready().ok && b.writer.ready().ok && a.writer.ownedPartitions().size + b.writer.ownedPartitions().size === 1, 60_000);
      await publish(t, [up('src-a', ip(1))]);
      await waitFor('warm-up applied', async () => ours(emu).length === 1 && (await groupLag(t)) === 0n, 60_000);
      const owner = a.writer.ownedPartitions().size === 1 ? a : b;
      const batches = async (): Promise<number> => ((await owner.registry.getSingleMetric('octi_writer_batches_total')?.get())?.values ?? []).reduce((s, v) => s + v.value, 0);
      const before = await batches();
      // The owner's next import takes three session timeouts (session 6 s).
      emu.faults({ type: 'latency', latencyMs: 18_000, endpoints: ['import'], calls: 1 });
      const v = ip(2);
      await publish(t, [up('src-a', v, 70)]);
      await waitFor('V Block applied and committed', async () => ours(emu).includes(`${v}:Block`) && (await groupLag(t)) === 0n, 90_000);
      await publish(t, [up('src-a', v, 10)]);
      await waitFor('V Warn applied and committed', async () => ours(emu).includes(`${v}:Warn`) && (await groupLag(t)) === 0n, 90_000);
      // The slow call has been answered and the batch that made it has ended (committed or not).
      await waitFor('the slow batch ended', async () => (await batches()) > before, 90_000);
      await waitFor('committed', async () => (await groupLag(t)) === 0n, 60_000);
      assert.deepEqual(heldTwice(emu), [], 'no value held twice');
      const offsets = await appliedOffsets(t, 0, 1);
      assert.ok(nonDecreasing(offsets), `applied offsets in the changelog went back: ${offsets.join(', ')}`);
      assert.deepEqual(ours(emu), [`${ip(1)}:Block`, `${v}:Warn`].sort());
      assert.ok(a.writer.live() && b.writer.live());
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('a writer frozen (SIGSTOP) longer than the session timeout makes no Defender call and no commit for the partition it lost', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    const env = writerEnv(emu, t);
    const v = ip(1);
    const a = spawnWriter(env);
    let b: Awaited<ReturnType<typeof startWriter>> | undefined;
    try {
      await publish(t, [up('src-a', v, 70)]);
      await waitFor('V Block applied by A', async () => ours(emu).includes(`${v}:Block`) && (await groupLag(t)) === 0n, 60_000);
      const blockId = emu.indicators().find((i) => i.indicatorValue === v)?.id ?? '';
      // V becomes Warn: A imports Warn, then deletes the Block id it replaced. A is frozen right after the
      // emulator answered the import, before A read that answer.
      await publish(t, [up('src-a', v, 10)]);
      await whenRequest(a.child, a.output, (r) => r.endpoint === 'import' && r.status === 200 && bodyText(r).includes('"Warn"'), () => a.child.kill('SIGSTOP'));
      b = await startWriter(env);
      const wb = b.writer;
      await waitFor('B took over and applied V Warn', async () => wb.ownedPartitions().size === 1 && ours(emu).join() === `${v}:Warn` && (await groupLag(t)) === 0n, 90_000);
      // B moves on: V is Block again (a new indicator; B deletes the Warn one).
      await publish(t, [up('src-a', v, 80)]);
      await waitFor('B applied V Block', async () => ours(emu).join() === `${v}:Block` && (await groupLag(t)) === 0n, 60_000);
      const lastSeq = Math.max(...emu.requests().map((r) => r.seq));
      const joinedBefore = a.output.join('').split('Consumer has joined the group').length;
      a.child.kill('SIGCONT');
      // A wakes up, finds it lost the group and rejoins: by then it has done whatever it would do with its old batch.
      await waitFor('A rejoined', () => a.output.join('').split('Consumer has joined the group').length > joinedBefore, 90_000);
      await waitFor('committed', async () => (await groupLag(t)) === 0n, 60_000);
      const late = emu.requests().filter((r) =>
        r.seq > lastSeq && (r.endpoint === 'import' || r.endpoint === 'batchDelete') && (bodyText(r).includes(`"${blockId}"`) || bodyText(r).includes('"Warn"'))
      );
      assert.deepEqual(late.map((r) => `${r.endpoint} ${bodyText(r)}`), [], 'no call of the frozen batch after it woke up');
      const offsets = await appliedOffsets(t, 0, 1);
      assert.ok(nonDecreasing(offsets), `applied offsets in the changelog went back: ${offsets.join(', ')}`);
      await waitFor('exact', () => ours(emu).join() === `${v}:Block` && heldTwice(emu).length === 0, 60_000);
    } catch (err) {
      throw new Error(`${String(err)}\nA:\n${a.output.join('')}`, { cause: err });
    } finally {
      await stopChild(a.child);
      await b?.stop();
    }
  });

  test('a crash after the Warn import, then the value becomes Block: within a minute of the restart Defender holds only the Block', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 1);
    const env = writerEnv(emu, t);
    const v = ip(1);
    await publish(t, [up('src-a', v, 10)]);
    const first = spawnWriter(env);
    try {
      await whenRequest(first.child, first.output, (r) => r.endpoint === 'import' && r.status === 200, () => first.child.kill('SIGKILL'));
    } finally {
      await stopChild(first.child, 'SIGKILL');
    }
    assert.deepEqual(ours(emu), [`${v}:Warn`], 'the Warn import landed');
    assert.equal(await groupLag(t), 1n, 'and was not committed');
    await publish(t, [up('src-a', v, 70)]);
    const second = spawnWriter(env);
    try {
      await waitFor('only V Block', () => emu.indicators().filter((i) => i.indicatorValue === v).map((i) => `${i.action}:${i.createdBy}`).join() === `Block:${CLIENT_ID}`, 60_000);
      await waitFor('committed', async () => (await groupLag(t)) === 0n, 60_000);
    } catch (err) {
      throw new Error(`${String(err)}\n${second.output.join('')}`, { cause: err });
    } finally {
      await stopChild(second.child);
    }
  });

  test('two writer processes on one host share the work without fencing each other', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 4);
    const n = 200;
    await publish(t, Array.from({ length: n }, (_, i) => up('src-a', ip(i + 1))));
    const env = writerEnv(emu, t);
    const a = spawnWriter(env);
    const b = spawnWriter(env);
    try {
      await waitFor('all applied', async () => ours(emu).length === n && (await groupLag(t)) === 0n, 90_000);
      await publish(t, Array.from({ length: n }, (_, i) => up('src-a', ip(i + 1), 10)));
      await waitFor('all changed', async () => ours(emu).every((x) => x.endsWith(':Warn')) && ours(emu).length === n && (await groupLag(t)) === 0n, 90_000);
      assert.deepEqual(heldTwice(emu), []);
      for (const w of [a, b]) {
        assert.equal(w.child.exitCode, null, 'still running');
        assert.doesNotMatch(w.output.join(''), /fenced|stopped for good/i);
      }
      // Both members took part (the group split the partitions between them).
      for (const w of [a, b]) assert.match(w.output.join(''), /partition state restored/);
    } catch (err) {
      throw new Error(`${String(err)}\nA:\n${a.output.join('')}\nB:\n${b.output.join('')}`, { cause: err });
    } finally {
      await Promise.all([stopChild(a.child), stopChild(b.child)]);
    }
  });

  test('a partition whose producer is fenced while the writer still owns it is registered and restored again; the other partition carries on', async () => {
    const t = uniqueTopics();
    await createCommandsTopic(t, 2);
    const onPartition = (p: number, from: number): string[] => {
      const out: string[] = [];
      for (let i = from; out.length < 3; i++) if (partitionForKey(`IpAddress:${ip(i)}`, 2) === p) out.push(ip(i));
      return out;
    };
    const first = [...onPartition(0, 1), ...onPartition(1, 1)];
    const w = await startWriter(writerEnv(emu, t));
    const kafka = createKafka({ brokers: requireBrokers(), clientId: 'writer-test-fencer' });
    try {
      await publish(t, first.map((v) => up('src-a', v)));
      await waitFor('first applied', async () => ours(emu).length === first.length && (await groupLag(t)) === 0n, 60_000);
      // Registering partition 0's transactional id elsewhere fences the writer's producer for it, as an
      // owner whose assignment had ended would by registering late.
      await kafka.transactionalProducer(partitionTransactionalId(t.group, 0));
      const second = [...onPartition(0, 100), ...onPartition(1, 100)];
      await publish(t, second.map((v) => up('src-a', v)));
      await waitFor('second applied and committed', async () => ours(emu).length === first.length + second.length && (await groupLag(t)) === 0n, 60_000);
      assert.ok(w.lines.some((l) => l.includes('partition producer fenced')), 'the fencing happened');
      assert.ok(w.writer.live());
      assert.deepEqual([...w.writer.ownedPartitions()].sort(), [0, 1]);
      assert.deepEqual(heldTwice(emu), []);
    } finally {
      await kafka.close();
      await w.stop();
    }
  });
});
