// A single-node KRaft broker from the official Apache Kafka jars (Maven Central, resolved once with
// `mvn` into .cache/kafka/<version>/libs), on free loopback ports, data in a temp folder.
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { KAFKA_VERSION, singleNodeSettings } from './broker-config.ts';
import { waitForBroker } from './ready.ts';

const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const CACHE_DIR = join(REPO_ROOT, '.cache', 'kafka');
const POM = fileURLToPath(new URL('../../pom.xml', import.meta.url));
const LOG4J_CONFIG = fileURLToPath(new URL('./log4j2.properties', import.meta.url));
const JARS_DIR = join(CACHE_DIR, KAFKA_VERSION, 'libs');
// Written last by a complete resolution: its presence means "skip Maven".
const COMPLETE_MARKER = join(JARS_DIR, '.complete');
const READY_TIMEOUT_MS = 120_000;

export const say = (msg: string): void => {
  process.stderr.write(`kafka: ${msg}\n`);
};

function javaBinary(): string {
  return process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

function exec(cmd: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const failure: Error = Object.assign(err, { stdout, stderr });
        reject(failure);
      } else resolve({ stdout, stderr });
    });
  });
}

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT';

async function checkJava(): Promise<void> {
  let out: string;
  try {
    out = (await exec(javaBinary(), ['-version'], 30_000)).stderr;
  } catch (err) {
    if (isMissing(err)) {
      throw new Error('no Kafka broker: KAFKA_BROKERS is not set, no Docker engine answers, and Java is missing (install Java 17+ or set JAVA_HOME)', { cause: err });
    }
    throw err;
  }
  const major = Number(/version "(?:1\.)?(\d+)/.exec(out)?.[1]);
  if (!(major >= 17)) throw new Error(`Apache Kafka ${KAFKA_VERSION} needs Java 17+, found: ${out.split('\n')[0] ?? out}`);
}

/** The broker's jars, resolving them with Maven on the first run (or after `.cache/kafka` was removed). */
async function resolveJars(): Promise<string> {
  if (existsSync(COMPLETE_MARKER)) return JARS_DIR;
  say(`resolving Apache Kafka ${KAFKA_VERSION} jars with Maven (first run only)`);
  const started = Date.now();
  mkdirSync(join(CACHE_DIR, KAFKA_VERSION), { recursive: true });
  // Resolve into a private folder, then rename: concurrent runs never see a half-filled folder.
  const staging = mkdtempSync(join(CACHE_DIR, KAFKA_VERSION, 'libs.partial-'));
  const args = [
    '-B',
    '-q',
    '-f',
    POM,
    'dependency:copy-dependencies',
    `-Dkafka.version=${KAFKA_VERSION}`,
    `-DoutputDirectory=${staging}`,
    '-DincludeScope=runtime',
    // Maven 3.8 (wagon) and 3.9 (resolver transport) retry settings for flaky networks.
    '-Dmaven.wagon.http.retryHandler.count=5',
    '-Daether.transport.http.retryHandler.count=5',
    ...(process.env.KAFKA_MAVEN_REPO ? [`-Dmaven.repo.local=${process.env.KAFKA_MAVEN_REPO}`] : []),
  ];
  try {
    for (let attempt = 1;; attempt++) {
      try {
        await exec('mvn', args, 600_000);
        break;
      } catch (err) {
        if (isMissing(err)) {
          throw new Error('no Kafka broker: KAFKA_BROKERS is not set, no Docker engine answers, and Maven (`mvn`) is missing to fetch the Apache Kafka jars', {
            cause: err,
          });
        }
        const e = err as Error & { stdout?: string; stderr?: string };
        const output = `${e.stdout ?? ''}${e.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
        if (attempt >= 3) throw new Error(`mvn failed to resolve Apache Kafka ${KAFKA_VERSION} jars (3 attempts):\n${output || e.message}`, { cause: err });
        say(`mvn failed (attempt ${attempt}/3), retrying`);
        await sleep(attempt * 3000);
      }
    }
    const jars = readdirSync(staging).filter((f) => f.endsWith('.jar'));
    if (!jars.some((j) => j.startsWith(`kafka_2.13-${KAFKA_VERSION}`))) throw new Error(`mvn did not deliver kafka_2.13-${KAFKA_VERSION}.jar into ${staging}`);
    writeFileSync(join(staging, '.complete'), `${jars.join('\n')}\n`);
    // Another run may have finished first: then keep its folder (a broker may be using it).
    if (!existsSync(COMPLETE_MARKER)) {
      try {
        rmSync(JARS_DIR, { recursive: true, force: true });
        renameSync(staging, JARS_DIR);
      } catch (err) {
        if (!existsSync(COMPLETE_MARKER)) throw err;
      }
    }
    say(`resolved ${jars.length} jars in ${((Date.now() - started) / 1000).toFixed(1)} s into ${relative(REPO_ROOT, JARS_DIR)}`);
    return JARS_DIR;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/**
 * Kafka's cluster id: 16 random bytes, URL-safe base64 without padding. Drawn again when it starts
 * with '-', as Kafka's own Uuid.randomUuid does: the storage tool would read it as an option and
 * fail with "expected one argument" (about one id in 64).
 */
export function clusterId(random: () => Buffer = () => randomBytes(16)): string {
  for (;;) {
    const id = random().toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

function newLogFile(): string {
  const dir = join(CACHE_DIR, 'logs');
  mkdirSync(dir, { recursive: true });
  // Keep a day of broker logs for post-mortems.
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (Date.now() - statSync(p).mtimeMs > 24 * 60 * 60 * 1000) rmSync(p, { force: true });
  }
  return join(dir, `broker-${new Date().toISOString().replaceAll(':', '-')}-${process.pid}.log`);
}

function logTail(logFile: string): string {
  try {
    return readFileSync(logFile, 'utf8').split('\n').slice(-25).join('\n');
  } catch {
    return '(no log)';
  }
}

interface PreparedBroker {
  readonly brokers: string[];
  readonly brokerPort: number;
  readonly controllerPort: number;
  /** Temp folder with server.properties and the log dirs; removed when the broker stops. */
  readonly dataDir: string;
  readonly logFile: string;
  /** The broker's JVM command line. */
  readonly java: string;
  readonly javaArgs: string[];
}

/** Resolves the jars, picks ports, writes server.properties and formats the storage. */
async function prepareBroker(): Promise<PreparedBroker> {
  await checkJava();
  const jars = await resolveJars();
  const brokerPort = await freePort();
  let controllerPort = await freePort();
  while (controllerPort === brokerPort) controllerPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'octi-kafka-'));
  const logFile = newLogFile();
  const settings = {
    ...singleNodeSettings({
      brokerListener: `127.0.0.1:${brokerPort}`,
      controllerListener: `127.0.0.1:${controllerPort}`,
      advertisedBroker: `127.0.0.1:${brokerPort}`,
      controllerVoter: `127.0.0.1:${controllerPort}`,
    }),
    'log.dirs': join(dataDir, 'data'),
  };
  const properties = join(dataDir, 'server.properties');
  writeFileSync(properties, Object.entries(settings).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  const jvm = [
    '-Xms128m',
    '-Xmx512m',
    // Small heap, few cores, short-lived: serial GC and C1 start fastest.
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${LOG4J_CONFIG}`,
    `-Dkafka.logs.dir=${join(dataDir, 'logs')}`,
    '-cp',
    join(jars, '*'),
  ];
  try {
    const fd = openSync(logFile, 'a');
    try {
      await new Promise<void>((resolve, reject) => {
        // kafka.tools.StorageTool is where 4.x keeps the `format` command (kafka_2.13 jar).
        const p = spawn(javaBinary(), [...jvm, 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', properties], { stdio: ['ignore', fd, fd] });
        p.on('error', reject);
        p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`formatting the Kafka storage failed (exit ${code}):\n${logTail(logFile)}`))));
      });
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    brokers: [`127.0.0.1:${brokerPort}`],
    brokerPort,
    controllerPort,
    dataDir,
    logFile,
    java: javaBinary(),
    javaArgs: [...jvm, 'kafka.Kafka', properties],
  };
}

// Supervises the JVM from a shell so that it dies, and its data goes, however this Node.js process
// ends (even SIGKILL): the watcher reads our stdin pipe and kills the JVM at EOF. The shell has its
// own process group, so Ctrl-C reaches only this process, which decides when the broker goes (after
// the clients it serves have closed); the trap covers a signal sent to the shell itself (background
// jobs of a non-interactive shell ignore SIGINT).
const SUPERVISOR = `
data=$1; log=$2; shift 2
exec 3<&0
"$@" </dev/null >>"$log" 2>&1 3<&- &
pid=$!
echo "$pid"
( read -r _ <&3; kill -9 "$pid" 2>/dev/null ) &
watcher=$!
trap 'kill -9 "$pid" 2>/dev/null' INT TERM HUP
while kill -0 "$pid" 2>/dev/null; do wait "$pid"; done
kill "$watcher" 2>/dev/null
rm -rf "$data"
`;

export interface RunningBroker {
  readonly brokers: string[];
  readonly logFile?: string;
  stop(): Promise<void>;
}

/** Starts a broker tied to this process: stopped by stop(), or when this process ends in any way. */
export async function startLocalBroker(): Promise<RunningBroker> {
  const b = await prepareBroker();
  const child: ChildProcess = spawn('/bin/sh', ['-c', SUPERVISOR, 'kafka-supervisor', b.dataDir, b.logFile, b.java, ...b.javaArgs], {
    // The shell's own stderr only says "Killed" when the JVM is stopped; the JVM writes to the log.
    stdio: ['pipe', 'pipe', 'ignore'],
    detached: true,
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const jvmPid = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    child.once('error', reject);
    child.once('exit', () => reject(new Error(`the Kafka supervisor exited:\n${logTail(b.logFile)}`)));
  });
  // Last resort if this process exits through process.exit() while the broker runs.
  const onExit = (): void => {
    try {
      process.kill(jvmPid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    rmSync(b.dataDir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.removeListener('exit', onExit);
      child.stdin?.end();
      const timedOut = await Promise.race([exited.then(() => false), sleep(15_000, undefined, { ref: false }).then(() => true)]);
      if (timedOut) {
        onExit();
        child.kill('SIGKILL');
      }
      rmSync(b.dataDir, { recursive: true, force: true });
    })();
    return stopping;
  };
  try {
    await waitForBroker(b.brokers, READY_TIMEOUT_MS, exited.then(() => new Error(`the Kafka broker exited during start-up:\n${logTail(b.logFile)}`)));
  } catch (err) {
    await stop();
    throw err;
  }
  say(`local KRaft broker ${KAFKA_VERSION} on ${b.brokers.join(',')} (log: ${relative(REPO_ROOT, b.logFile)})`);
  return { brokers: b.brokers, logFile: b.logFile, stop };
}

// ---- detached broker for `npm run kafka:up` / `kafka:down` -------------------------------------

export const RUN_FILE = join(CACHE_DIR, 'run.json');

interface RunInfo {
  readonly pid: number;
  readonly brokers: string[];
  readonly brokerPort: number;
  readonly controllerPort: number;
  readonly dataDir: string;
  readonly logFile: string;
  readonly version: string;
}

export function readRunInfo(): RunInfo | undefined {
  try {
    return JSON.parse(readFileSync(RUN_FILE, 'utf8')) as RunInfo;
  } catch {
    return undefined;
  }
}

/** True when `pid` is still this broker's JVM (its command line names the data dir), not a reused pid. */
export function isBrokerAlive(info: RunInfo): boolean {
  try {
    process.kill(info.pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${info.pid}/cmdline`, 'utf8').includes(info.dataDir);
  } catch {
    return true; // no /proc (macOS): trust the pid
  }
}

export async function startDetachedBroker(): Promise<RunInfo> {
  const b = await prepareBroker();
  const fd = openSync(b.logFile, 'a');
  const child = spawn(b.java, b.javaArgs, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  const info: RunInfo = {
    pid: child.pid ?? -1,
    brokers: b.brokers,
    brokerPort: b.brokerPort,
    controllerPort: b.controllerPort,
    dataDir: b.dataDir,
    logFile: b.logFile,
    version: KAFKA_VERSION,
  };
  writeFileSync(RUN_FILE, `${JSON.stringify(info, null, 2)}\n`);
  const died = new Promise<Error>((resolve) => child.on('exit', () => resolve(new Error(`the Kafka broker exited during start-up:\n${logTail(b.logFile)}`))));
  try {
    await waitForBroker(b.brokers, READY_TIMEOUT_MS, died);
  } catch (err) {
    await stopDetachedBroker(info);
    throw err;
  }
  return info;
}

export async function stopDetachedBroker(info: RunInfo): Promise<void> {
  if (isBrokerAlive(info)) {
    process.kill(info.pid, 'SIGKILL');
    for (let i = 0; i < 100 && isBrokerAlive(info); i++) await sleep(100);
  }
  rmSync(info.dataDir, { recursive: true, force: true });
  rmSync(RUN_FILE, { force: true });
}

// ---- restartable broker for the end-to-end suite ------------------------------------------------

export interface RestartableBroker extends RunningBroker {
  /** SIGKILLs the JVM (as a node crash would) and resolves once it is gone; the data stays. */
  kill(): Promise<void>;
  /** Starts the JVM again on the same ports and data, and waits until it answers. */
  restart(): Promise<void>;
}

/**
 * A local broker whose JVM can be killed -9 and started again on the same ports and log dirs, to test
 * clients through a broker crash. Killed with this process too (exit hook); stop() removes the data.
 */
export async function startRestartableBroker(): Promise<RestartableBroker> {
  const b = await prepareBroker();
  let jvm: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  const launch = async (): Promise<void> => {
    const fd = openSync(b.logFile, 'a');
    const child = spawn(b.java, b.javaArgs, { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    jvm = child;
    exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const died = exited.then(() => new Error(`the Kafka broker exited during start-up:\n${logTail(b.logFile)}`));
    await waitForBroker(b.brokers, READY_TIMEOUT_MS, died);
  };
  const kill = async (): Promise<void> => {
    if (jvm && jvm.exitCode === null && jvm.signalCode === null) jvm.kill('SIGKILL');
    await exited;
  };
  const onExit = (): void => {
    jvm?.kill('SIGKILL');
    rmSync(b.dataDir, { recursive: true, force: true });
  };
  process.once('exit', onExit);
  try {
    await launch();
  } catch (err) {
    await kill();
    onExit();
    throw err;
  }
  say(`restartable KRaft broker ${KAFKA_VERSION} on ${b.brokers.join(',')} (log: ${relative(REPO_ROOT, b.logFile)})`);
  return {
    brokers: b.brokers,
    logFile: b.logFile,
    kill,
    restart: async () => {
      await kill();
      await launch();
    },
    stop: async () => {
      process.removeListener('exit', onExit);
      await kill();
      rmSync(b.dataDir, { recursive: true, force: true });
    },
  };
}
