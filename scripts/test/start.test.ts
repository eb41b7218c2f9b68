// `npm start` as a user runs it, without a terminal (so the live view prints plain lines): indicators
// arrive in the Defender emulator, the healthy run logs no error, and SIGTERM to its process group
// (what Ctrl-C does) stops everything it started. Kafka is the suite's broker (KAFKA_BROKERS), with
// this run's own topics and groups.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireBrokers } from '@octi-defender/kafka/testing';

const ROOT = new URL('../../', import.meta.url).pathname;

/** Every live process descending from `root` (Linux /proc). */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // pid (comm) state ppid …; comm may contain spaces, so read after the last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (pid: number): void => {
    for (const [child, ppid] of parent) {
      if (ppid === pid) {
        out.push(child);
        walk(child);
      }
    }
  };
  walk(root);
  return out;
}

/** Running, i.e. neither gone nor a zombie waiting for its parent to reap it. */
const alive = (pid: number): boolean => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

test('npm start: indicators reach the Defender emulator, no error is logged, SIGTERM leaves nothing running', async () => {
  const run = randomBytes(4).toString('hex');
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    // Its own process group, like a shell job: the signal below reaches npm and the script, as Ctrl-C does.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      KAFKA_BROKERS: requireBrokers().join(','),
      KAFKA_TOPIC_COMMANDS: `start-${run}.indicators`,
      KAFKA_TOPIC_DLQ: `start-${run}.dlq`,
      KAFKA_TOPIC_CHECKPOINTS: `start-${run}.checkpoints`,
      LISTENER_GROUP_ID: `start-${run}-listener`,
      WRITER_TENANT_NAME: `start-${run}`,
      // Empty wins over a developer's .env: the emulators, never a real OpenCTI or Defender tenant.
      ...Object.fromEntries(
        ['OPENCTI_URL', 'OPENCTI_TOKEN', 'CONNECTOR_LIVE_STREAM_ID', 'MICROSOFT_DEFENDER_INTEL_TENANT_ID', 'MICROSOFT_DEFENDER_INTEL_CLIENT_ID', 'MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET', 'MICROSOFT_DEFENDER_INTEL_BASE_URL'].map((v) => [v, '']),
      ),
    },
  });
  // npm itself exits at the signal; the script goes on stopping what it started, and its output
  // ends when it has.
  const finished = Promise.all([new Promise((r) => child.stdout.on('close', r)), new Promise((r) => child.stderr.on('close', r))]);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const pids = new Set<number>();
  const output = (): string => `stdout:\n${stdout}\nstderr:\n${stderr}`;

  try {
    // A safety net only: the condition is what the test waits for.
    const deadline = performance.now() + 240_000;
    let held = 0;
    while (held === 0) {
      assert.ok(performance.now() < deadline, `no indicator arrived in Defender\n${output()}`);
      assert.equal(child.exitCode, null, `npm start exited early\n${output()}`);
      for (const pid of descendants(child.pid!)) pids.add(pid);
      const lines = [...stdout.matchAll(/defender holds (\d+)\/\d+ indicators/g)];
      held = Number(lines.at(-1)?.[1] ?? 0);
      await new Promise((r) => setTimeout(r, 500));
    }
    // The admin view the run printed holds them too.
    const admin = /admin view: (http:\/\/127\.0\.0\.1:\d+)\/_emulator\/indicators/.exec(stderr)?.[1];
    assert.ok(admin, `the Defender emulator's admin view is printed\n${output()}`);
    const indicators = (await (await fetch(`${admin}/_emulator/indicators`)).json()) as { application: string }[];
    assert.ok(indicators.length > 0 && indicators.every((i) => i.application === 'OpenCTI Defender Sync'), `the writer's indicators are in the emulator\n${output()}`);
    assert.match(stderr, /stream-listener {2}http:\/\/127\.0\.0\.1:\d+\/metrics {2}http:\/\/127\.0\.0\.1:\d+\/readyz/, 'where to look is printed');
    assert.match(stderr, /Kafka {12}.* \(KAFKA_BROKERS\)/, 'says which Kafka it uses');
    for (const pid of descendants(child.pid!)) pids.add(pid);
    // npm, the script, both emulators and both services at least.
    assert.ok(pids.size >= 5, `processes seen: ${[...pids].join(', ')}`);
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
  }
  await finished;
  assert.match(stderr, /start: stopping…\n(.*\n)*start: stopped; logs in/, output());
  assert.doesNotMatch(stderr, /^start: \S+ (error|fatal): /m, 'no process logged an error');
  const left = [...pids].filter(alive);
  assert.deepEqual(left, [], `processes left running:\n${left.map((p) => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' '); } catch { return String(p); } }).join('\n')}`);
});
