// `npm start` as a user runs it, without a terminal (so the live view prints plain lines): indicators
// arrive in the Defender emulator, the healthy run logs no error, and SIGTERM to its process group
// (what Ctrl-C does) stops everything it started; a process that dies stops the run, which says
// which and why. Kafka is the suite's broker (KAFKA_BROKERS), with each run's own topics and groups.
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

interface Run {
  readonly pid: number;
  /** Resolves once the script's output has ended (npm itself exits at a signal; the script goes on). */
  readonly finished: Promise<unknown>;
  readonly out: { stdout: string; stderr: string };
  /** Every process of the run seen so far (descendants of npm). */
  readonly pids: Set<number>;
  output(): string;
}

/** `npm start` in its own process group, like a shell job, on the suite's broker with its own topics. */
function npmStart(): Run {
  const run = randomBytes(4).toString('hex');
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
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
        [
          'OPENCTI_URL',
          'OPENCTI_TOKEN',
          'CONNECTOR_LIVE_STREAM_ID',
          'MICROSOFT_DEFENDER_INTEL_TENANT_ID',
          'MICROSOFT_DEFENDER_INTEL_CLIENT_ID',
          'MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET',
          'MICROSOFT_DEFENDER_INTEL_BASE_URL',
        ].map((v) => [v, '']),
      ),
    },
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => (out.stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out.stderr += d.toString()));
  return {
    pid: child.pid!,
    finished: Promise.all([new Promise((r) => child.stdout.on('close', r)), new Promise((r) => child.stderr.on('close', r))]),
    out,
    pids: new Set<number>(),
    output: () => `stdout:\n${out.stdout}\nstderr:\n${out.stderr}`,
  };
}

/** Polls until `cond` holds, noting the run's processes; the deadline is a safety net only. */
async function until(run: Run, what: string, cond: () => boolean): Promise<void> {
  const deadline = performance.now() + 240_000;
  while (!cond()) {
    assert.ok(performance.now() < deadline, `${what}\n${run.output()}`);
    for (const pid of descendants(run.pid)) run.pids.add(pid);
    await new Promise((r) => setTimeout(r, 500));
  }
  for (const pid of descendants(run.pid)) run.pids.add(pid);
}

function assertNothingLeft(run: Run): void {
  const left = [...run.pids].filter(alive);
  const describe = (p: number): string => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').replaceAll('\0', ' ');
    } catch {
      return String(p);
    }
  };
  assert.deepEqual(left, [], `processes left running:\n${left.map(describe).join('\n')}`);
}

const held = (run: Run): number => Number([...run.out.stdout.matchAll(/defender holds (\d+)\/\d+ indicators/g)].at(-1)?.[1] ?? 0);

test('npm start: indicators reach the Defender emulator, no error is logged, SIGTERM leaves nothing running', async () => {
  const run = npmStart();
  try {
    await until(run, 'no indicator arrived in Defender', () => held(run) > 0);
    // The admin view the run printed holds them too.
    const admin = /admin view: (http:\/\/127\.0\.0\.1:\d+)\/_emulator\/indicators/.exec(run.out.stderr)?.[1];
    assert.ok(admin, `the Defender emulator's admin view is printed\n${run.output()}`);
    const indicators = (await (await fetch(`${admin}/_emulator/indicators`)).json()) as { application: string }[];
    assert.ok(indicators.length > 0 && indicators.every((i) => i.application === 'OpenCTI Defender Sync'), `the writer's indicators are in the emulator\n${run.output()}`);
    assert.match(run.out.stderr, /stream-listener {2}http:\/\/127\.0\.0\.1:\d+\/metrics {2}http:\/\/127\.0\.0\.1:\d+\/readyz/, 'where to look is printed');
    assert.match(run.out.stderr, /Kafka {12}.* \(KAFKA_BROKERS\)/, 'says which Kafka it uses');
    // npm, the script, both emulators and both services at least.
    assert.ok(run.pids.size >= 5, `processes seen: ${[...run.pids].join(', ')}`);
  } finally {
    // To the group, as Ctrl-C does.
    process.kill(-run.pid, 'SIGTERM');
  }
  await run.finished;
  assert.match(run.out.stderr, /start: stopping…\n(.*\n)*start: stopped; logs in/, run.output());
  assert.doesNotMatch(run.out.stderr, /^start: \S+ (error|fatal): /m, 'no process logged an error');
  assertNothingLeft(run);
});

test('npm start: a process that dies stops the run, which says which and why and leaves nothing running', async () => {
  const run = npmStart();
  let writer: number | undefined;
  try {
    await until(run, 'the writer never started', () => {
      writer = [...run.pids].find((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('services/defender-writer/src/main.ts');
        } catch {
          return false;
        }
      });
      return writer !== undefined && held(run) > 0;
    });
    process.kill(writer!, 'SIGKILL');
    await run.finished;
  } finally {
    if (alive(run.pid)) process.kill(-run.pid, 'SIGTERM');
  }
  assert.match(run.out.stderr, /start: defender-writer stopped \(killed by SIGKILL\); its output: .*defender-writer\.log\n/, run.output());
  assert.match(run.out.stderr, /start: stopped; logs in/, run.output());
  assertNothingLeft(run);
});
