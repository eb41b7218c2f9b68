// `npm start [-- --sightings]`: the whole pipeline on this machine in one command. A Kafka broker (KAFKA_BROKERS, or
// the test harness's local one), the OpenCTI and Defender emulators (unless the environment or an
// `.env` file names a real OpenCTI / Defender tenant), the stream-listener and a defender-writer, all
// as supervised child processes on this Node.js, a demo stream fed into the OpenCTI emulator, and a
// live view until Ctrl-C or SIGTERM, which stop everything in order. A child that stops on its own
// stops the run, saying which and why.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';
import { freePort, startKafka } from '@octi-defender/kafka/testing';
import type { TestKafka } from '@octi-defender/kafka/testing';
import { waitForBroker } from '../libs/kafka/src/testing/ready.ts';
import { listenerEnv } from '../services/stream-listener/src/config.ts';
import { writerEnv } from '../services/defender-writer/src/config.ts';
import { reporterEnv } from '../services/sighting-reporter/src/config.ts';
import { Child } from './start/children.ts';
import type { Problem } from './start/children.ts';
import { Feed } from './start/feed.ts';
import { AlertFeed } from './start/alerts.ts';
import { DEMO, listenerEnvironment, planRun, PREFERRED_PORTS, reporterEnvironment, writerEnvironment } from './start/plan.ts';
import { read } from './start/scrape.ts';
import type { Reading } from './start/scrape.ts';
import { StatusWatch } from './start/status.ts';
import { line, screen, summarize } from './start/view.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const rel = (p: string): string => relative(ROOT, p);
const LOG_DIR = join(ROOT, '.cache', 'start', new Date().toISOString().replaceAll(':', '-'));
const tty = process.stdout.isTTY === true;
// A service gets its own graceful-shutdown time plus a margin before it is killed.
const GRACE_MS = 30_000;
const READ_EVERY_MS = 1000;
/** How often `octi-defender status` runs for the live view (it reads a few topics each time). */
const STATUS_EVERY_MS = 15_000;
const LINE_EVERY_MS = 5000;
const HISTORY_OPS = 600;
const TRICKLE_PER_SECOND = 3;

const say = (msg: string): void => {
  process.stderr.write(`start: ${msg}\n`);
};

// --- configuration: the environment over an .env file ------------------------------------------
const envFile = join(ROOT, '.env');
const env: NodeJS.ProcessEnv = { ...(existsSync(envFile) ? parseEnv(readFileSync(envFile, 'utf8')) : {}), ...process.env };
const plan = planRun(env);
// `npm start -- --sightings`: also the sighting-reporter, and demo alerts when Defender is the emulator.
const withSightings = process.argv.slice(2).includes('--sightings');

async function portOrFree(preferred: number, host: string): Promise<number> {
  const free = await new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(preferred, host, () => s.close(() => resolve(true)));
  });
  return free ? preferred : freePort();
}

// --- supervision -------------------------------------------------------------------------------
const children: Child[] = [];
const problems: string[] = [];
let kafka: TestKafka | undefined;
let feed: Feed | undefined;
let alertFeed: AlertFeed | undefined;
let viewTimer: NodeJS.Timeout | undefined;
let statusWatch: StatusWatch | undefined;
let stopping: Promise<never> | undefined;
let failure: string | undefined;

const onProblem = (p: Problem): void => {
  const text = `${p.child} ${p.level}: ${p.text}`;
  problems.push(text);
  if (problems.length > 5) problems.shift();
  if (!tty) say(text);
};

function spawnChild(name: string, script: string, args: string[], childEnv: NodeJS.ProcessEnv): Child {
  const child = new Child({ name, script: join(ROOT, script), args, env: childEnv, logDir: LOG_DIR, onProblem });
  children.push(child);
  void child.exited.then((exit) => {
    if (!child.stopping && !stopping) {
      failure = child.explain(exit);
      void stop(1);
    }
  });
  return child;
}

async function answers(url: string, child: Child, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let exited = false;
  void child.exited.then(() => (exited = true));
  while (performance.now() < deadline && !exited) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      return;
    } catch {
      await sleep(200);
    }
  }
  if (!exited) throw new Error(`${child.name} does not answer on ${url} (its output: ${rel(child.logFile)})`);
  // The exit handler reports why and stops the run.
  await new Promise(() => undefined);
}

function stop(code: number): Promise<never> {
  stopping ??= (async () => {
    clearInterval(viewTimer);
    statusWatch?.stop();
    feed?.stop();
    alertFeed?.stop();
    if (tty) process.stdout.write('\x1b[?1049l\x1b[?25h');
    if (failure) say(failure);
    say('stopping…');
    // The services first (they finish their batch and leave their groups), then what they talk to.
    const services = children.filter((c) => c.name === 'stream-listener' || c.name === 'defender-writer' || c.name === 'sighting-reporter');
    await Promise.all(services.map((c) => c.stop(GRACE_MS)));
    await Promise.all(children.filter((c) => !services.includes(c)).map((c) => c.stop(GRACE_MS)));
    await kafka?.stop();
    say(`stopped; logs in ${rel(LOG_DIR)}`);
    process.exit(failure ? 1 : code);
  })();
  return stopping;
}

let firstSignal: number | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    // One Ctrl-C can arrive twice (from the terminal, and again from an npm that passes signals
    // on): only a signal a moment after the first means "stop waiting".
    if (firstSignal !== undefined && performance.now() - firstSignal > 1000) {
      say('second signal: killing everything now');
      for (const c of children) if (c.pid) process.kill(-c.pid, 'SIGKILL');
      process.exit(130);
    }
    firstSignal ??= performance.now();
    void stop(0);
  });
}

// npm 11 exits on SIGTERM without passing it on, and a closed terminal sends SIGHUP: when whoever
// started this process is gone, stop as if signalled.
process.on('SIGHUP', () => void stop(0));
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void stop(0);
}, 1000).unref();

// --- start -------------------------------------------------------------------------------------
/** Keeps the logs of the last few runs only. */
function pruneLogs(keep: number): void {
  const runs = join(ROOT, '.cache', 'start');
  const dirs = readdirSync(runs).sort();
  for (const old of dirs.slice(0, Math.max(0, dirs.length - keep))) rmSync(join(runs, old), { recursive: true, force: true });
}

async function main(): Promise<void> {
  mkdirSync(LOG_DIR, { recursive: true });
  pruneLogs(5);
  if (env.KAFKA_BROKERS?.trim()) process.env.KAFKA_BROKERS = env.KAFKA_BROKERS;
  try {
    kafka = await startKafka();
    await waitForBroker(kafka.brokers, 15_000);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const brokers = env.KAFKA_BROKERS?.trim();
    failure = brokers
      ? `Kafka at ${brokers} (KAFKA_BROKERS) does not answer: ${reason}. Unset KAFKA_BROKERS to run a local broker, or point it at a reachable one.`
      : `no Kafka broker: ${reason}`;
    return void stop(1);
  }
  const brokers = kafka.brokers;
  const header: string[] = [`Kafka            ${brokers.join(',')} (${kafka.source === 'env' ? 'KAFKA_BROKERS' : 'a local broker for this run'})`];

  let openctiUrl: string | undefined;
  let defenderUrl: string | undefined;
  if (plan.opencti === 'emulator') {
    const port = await portOrFree(PREFERRED_PORTS.opencti, '127.0.0.1');
    openctiUrl = `http://127.0.0.1:${port}`;
    const octi = spawnChild('opencti-emulator', 'libs/emulators/src/bin/opencti.ts', ['--port', String(port), '--token', DEMO.openctiToken, '--stream', DEMO.streamId], process.env);
    await answers(`${openctiUrl}/_emulator/state`, octi, 30_000);
    feed = new Feed({ openctiUrl, historyOps: HISTORY_OPS, perSecond: TRICKLE_PER_SECOND, seed: Date.now() % 1_000_000 });
    await feed.history();
    header.push(
      `OpenCTI          the emulator at ${openctiUrl} (stream ${DEMO.streamId}: a history of ${HISTORY_OPS} operations, then ${TRICKLE_PER_SECOND} per second)`,
      `                 admin view: ${openctiUrl}/_emulator/state, ${openctiUrl}/_emulator/entities`,
      '                 (set OPENCTI_URL, OPENCTI_TOKEN and CONNECTOR_LIVE_STREAM_ID to use your OpenCTI)',
    );
  } else {
    header.push(`OpenCTI          ${env.OPENCTI_URL ?? '(OPENCTI_URL unset)'}, stream ${env.CONNECTOR_LIVE_STREAM_ID ?? '(CONNECTOR_LIVE_STREAM_ID unset)'} (configured)`);
  }
  if (plan.defender === 'emulator') {
    const port = await portOrFree(PREFERRED_PORTS.defender, '127.0.0.1');
    defenderUrl = `http://127.0.0.1:${port}`;
    const mde = spawnChild('defender-emulator', 'libs/emulators/src/bin/defender.ts', [
      '--port',
      String(port),
      '--tenant',
      DEMO.tenantId,
      '--client-id',
      DEMO.clientId,
      '--client-secret',
      DEMO.clientSecret,
    ], process.env);
    await answers(`${defenderUrl}/_emulator/stats`, mde, 30_000);
    header.push(
      `Defender         the emulator at ${defenderUrl} (tenant ${DEMO.tenantId}, documented quotas and cap)`,
      `                 admin view: ${defenderUrl}/_emulator/indicators, ${defenderUrl}/_emulator/stats, ${defenderUrl}/_emulator/requests`,
      '                 (set MICROSOFT_DEFENDER_INTEL_TENANT_ID, _CLIENT_ID and _CLIENT_SECRET to use your tenant)',
    );
  } else {
    header.push(
      `Defender         ${env.MICROSOFT_DEFENDER_INTEL_BASE_URL ?? 'https://api.securitycenter.microsoft.com'}, tenant ${
        env.MICROSOFT_DEFENDER_INTEL_TENANT_ID ?? '(MICROSOFT_DEFENDER_INTEL_TENANT_ID unset)'
      } (configured)`,
    );
  }

  const at = {
    brokers,
    ...(openctiUrl ? { openctiUrl } : {}),
    ...(defenderUrl ? { defenderUrl } : {}),
    listenerPort: await portOrFree(Number(listenerEnv.httpPort.default), '0.0.0.0'),
    writerPort: await portOrFree(Number(writerEnv.httpPort.default), '0.0.0.0'),
    ...(withSightings ? { reporterPort: await portOrFree(Number(reporterEnv.httpPort.default), '0.0.0.0') } : {}),
  };
  const listenerUrl = `http://127.0.0.1:${at.listenerPort}`;
  const writerUrl = `http://127.0.0.1:${at.writerPort}`;
  spawnChild('stream-listener', 'services/stream-listener/src/main.ts', [], listenerEnvironment(env, plan, at));
  spawnChild('defender-writer', 'services/defender-writer/src/main.ts', [], writerEnvironment(env, plan, at));
  header.push(
    `stream-listener  ${listenerUrl}/metrics  ${listenerUrl}/readyz`,
    `defender-writer  ${writerUrl}/metrics  ${writerUrl}/readyz`,
  );
  const reporterUrl = at.reporterPort === undefined ? undefined : `http://127.0.0.1:${at.reporterPort}`;
  if (reporterUrl) {
    spawnChild('sighting-reporter', 'services/sighting-reporter/src/main.ts', [], reporterEnvironment(env, plan, at));
    header.push(`sighting-reporter ${reporterUrl}/metrics  ${reporterUrl}/readyz${openctiUrl ? `  (sightings: ${openctiUrl}/_emulator/sightings)` : ''}`);
    if (defenderUrl) {
      alertFeed = new AlertFeed({ defenderUrl, clientId: DEMO.clientId, everyMs: 4000 });
      alertFeed.start((err) => onProblem({ child: 'demo alerts', level: 'warn', text: err.message }));
      header.push('                 demo alerts: one every 4 s on an indicator the writer imported');
    }
  }
  header.push(`logs             ${rel(LOG_DIR)}/<process>.log`);
  // What `octi-defender status` says, as an operator would run it with the services' settings.
  statusWatch = new StatusWatch({ ...listenerEnvironment(env, plan, at), ...writerEnvironment(env, plan, at) }, STATUS_EVERY_MS);
  statusWatch.start();
  feed?.trickle((err) => onProblem({ child: 'demo stream', level: 'warn', text: err.message }));

  // --- the live view ---------------------------------------------------------------------------
  const started = performance.now();
  const history: Reading[] = [];
  let lastLine = 0;
  if (tty) process.stdout.write('\x1b[?1049h\x1b[?25l');
  else for (const h of header) say(h);
  let reading = false;
  const tick = async (): Promise<void> => {
    if (reading || stopping) return;
    reading = true;
    try {
      const r = await read({
        listener: listenerUrl,
        writer: writerUrl,
        ...(defenderUrl ? { defenderEmulator: defenderUrl } : {}),
        ...(reporterUrl ? { reporter: reporterUrl } : {}),
        ...(openctiUrl ? { openctiEmulator: openctiUrl } : {}),
      });
      history.push(r);
      while (history.length > 0 && history[0]!.at < r.at - 70_000) history.shift();
      if (stopping) return;
      const summary = summarize(history);
      if (tty) {
        const lines = screen(summary, header, problems, (r.at - started) / 1000, statusWatch?.latest);
        process.stdout.write(`\x1b[H\x1b[J${lines.join('\n')}\n`);
      } else if (summary && r.at - lastLine >= LINE_EVERY_MS) {
        lastLine = r.at;
        process.stdout.write(`[${new Date().toISOString().slice(11, 19)}] ${line(summary, statusWatch?.latest)}\n`);
      }
    } finally {
      reading = false;
    }
  };
  viewTimer = setInterval(() => void tick(), READ_EVERY_MS);
  void tick();
}

try {
  await main();
} catch (err) {
  failure = err instanceof Error ? err.message : String(err);
  await stop(1);
}
