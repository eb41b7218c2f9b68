// `npm run images:test`: builds the images of the Dockerfile and checks them the way they are
// deployed. The listener, the writer and the sighting-reporter run `--read-only --user 1000 --cap-drop ALL` (only /tmp
// writable, as in compose and Kubernetes), on host networking, against a real Kafka broker (the
// kafka harness) and the OpenCTI and Defender emulators (from the emulators image). It checks
// /healthz and /readyz, that indicators of the OpenCTI stream reach the Defender emulator, that an
// alert the Defender emulator raises on one of them becomes a sighting in the OpenCTI emulator, that each
// image's HEALTHCHECK passes, and that a stop (SIGTERM through tini) ends every container gracefully:
// exit code 0 within its grace period, and the services log "shutdown complete". Ports are free ones,
// names and tags carry the run's id: two runs on one machine do not collide.
// Engine: Docker when one answers, else podman (scripts/images/engine.ts); with podman the base image
// is a local stand-in for node:24-bookworm-slim (scripts/images/node-base.ts) unless
// IMAGES_NODE_IMAGE names one. Build logs: .cache/images/build-<target>.log.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort, startKafka } from '@octi-defender/kafka/testing';
import type { TestKafka } from '@octi-defender/kafka/testing';
import { detectEngine } from './images/engine.ts';
import type { Engine } from './images/engine.ts';
import { CACHE, standInNodeImage } from './images/node-base.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const TARGETS = ['stream-listener', 'defender-writer', 'sighting-reporter', 'emulators'] as const;
type Target = (typeof TARGETS)[number];
const WAIT_MS = 180_000;
// Each service's SHUTDOWN_TIMEOUT_MS here; the engine's stop waits a little longer before SIGKILL.
const SHUTDOWN_TIMEOUT_MS = 20_000;
const STOP_GRACE_S = SHUTDOWN_TIMEOUT_MS / 1000 + 5;

// Exits non-zero, naming the leftover, when the runtime holds npm, corepack or Node's C headers, or
// lacks node and tini.
const RUNTIME_TRIMMED = [
  'for f in /usr/local/include/node /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack; do',
  '  if [ -e "$f" ]; then echo "left in the runtime: $f" >&2; exit 1; fi',
  'done',
  'node --version > /dev/null && test -x /usr/bin/tini',
].join('\n');

const say = (msg: string): void => {
  process.stderr.write(`images: ${msg}\n`);
};
// Each check that held; the closing line counts them ("images: N passed, N failed").
let passedChecks = 0;
const pass = (msg: string): void => {
  passedChecks += 1;
  say(`ok: ${msg}`);
};
// What this run leaves behind (containers, tags, the broker), undone last first at the end and on
// SIGINT/SIGTERM: a container would outlive this process otherwise.
const cleanups: (() => Promise<unknown>)[] = [];
async function cleanUp(): Promise<void> {
  for (let undo = cleanups.pop(); undo !== undefined; undo = cleanups.pop()) await undo().catch(() => undefined);
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: removing this run's containers and tags`);
    void cleanUp().finally(() => process.exit(130));
  });
}

const elapsed = (since: number): string => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** The host's CA bundle for npm ci in the build (a TLS-inspecting proxy may sign registry traffic). */
function hostCaBundle(): string | undefined {
  const npmCafile = spawnSync('npm', ['config', 'get', 'cafile'], { encoding: 'utf8', timeout: 30_000 }).stdout?.trim();
  const candidates = [process.env.NODE_EXTRA_CA_CERTS, npmCafile, process.env.SSL_CERT_FILE, '/etc/ssl/certs/ca-certificates.crt'];
  return candidates.find((f): f is string => f !== undefined && f !== '' && f !== 'null' && existsSync(f));
}

async function must(engine: Engine, args: string[], what: string): Promise<string> {
  const r = await engine.run(args);
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout.trim();
}

async function build(engine: Engine, target: Target, tag: string, nodeImage: string | undefined, ca: string | undefined): Promise<void> {
  const log = join(CACHE, `build-${target}.log`);
  const fd = openSync(log, 'w');
  const started = Date.now();
  const r = await engine
    .run(
      [
        'build',
        ...engine.buildFlags,
        '--target',
        target,
        '-t',
        tag,
        ...(nodeImage === undefined ? [] : ['--build-arg', `NODE_IMAGE=${nodeImage}`]),
        ...(ca === undefined ? [] : ['--secret', `id=npm-ca,src=${ca}`]),
        ROOT,
      ],
      { logFile: fd },
    )
    .finally(() => {
      closeSync(fd);
    });
  if (r.code !== 0) {
    const tail = readFileSync(log, 'utf8').trimEnd().split('\n').slice(-40).join('\n');
    throw new Error(`building ${target} failed (exit ${r.code}); the end of ${log}:\n${tail}`);
  }
  pass(`built ${tag} in ${elapsed(started)}`);
}

interface Healthcheck {
  Test?: string[];
}

async function imageFacts(engine: Engine, tag: string): Promise<{ size: number; healthcheck: Healthcheck | null; user: string }> {
  const out = await must(engine, ['image', 'inspect', '--format', '{{.Size}}\n{{.Config.User}}\n{{json .Config.Healthcheck}}', tag], `inspecting ${tag}`);
  const [size, user, health] = out.split('\n');
  return { size: Number(size), healthcheck: JSON.parse(health ?? 'null') as Healthcheck | null, user: user ?? '' };
}

/** A failure that waiting longer cannot mend (a container exited). */
class FatalError extends Error {}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof FatalError) throw err;
      last = err;
    }
    await sleep(500);
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${last instanceof Error ? ` (last error: ${last.message})` : ''}`);
}

async function httpOk(url: string): Promise<true | undefined> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  await res.body?.cancel();
  return res.ok ? true : undefined;
}

interface Container {
  readonly name: string;
  readonly service: boolean;
  readonly httpPort?: number;
}

class Check {
  private readonly engine: Engine;
  private readonly runId: string;
  constructor(engine: Engine, runId: string) {
    this.engine = engine;
    this.runId = runId;
  }

  async start(role: string, image: string, env: Record<string, string>, args: string[], opts: { service: boolean; httpPort?: number }): Promise<Container> {
    const name = `octi-images-${this.runId}-${role}`;
    const c: Container = { name, service: opts.service, httpPort: opts.httpPort };
    cleanups.push(() => this.engine.run(['rm', '-f', name]));
    await must(
      this.engine,
      [
        'run',
        '-d',
        '--name',
        name,
        ...this.engine.runFlags,
        '--read-only',
        '--tmpfs',
        '/tmp',
        '--user',
        '1000',
        '--cap-drop',
        'ALL',
        '--security-opt',
        'no-new-privileges',
        ...Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
        image,
        ...args,
      ],
      `starting ${role}`,
    );
    return c;
  }

  async logs(c: Container): Promise<string> {
    const r = await this.engine.run(['logs', c.name]);
    return r.stdout + r.stderr;
  }

  async state(c: Container): Promise<{ running: boolean; exitCode: number }> {
    const out = await must(this.engine, ['inspect', '--format', '{{.State.Running}} {{.State.ExitCode}}', c.name], `inspecting ${c.name}`);
    const [running, code] = out.split(' ');
    return { running: running === 'true', exitCode: Number(code) };
  }

  /** Running, and not restarted or exited behind our back. */
  async alive(c: Container): Promise<void> {
    const s = await this.state(c);
    if (!s.running) throw new FatalError(`${c.name} exited (code ${s.exitCode}):\n${tail(await this.logs(c))}`);
  }

  /** Waits for `probe` while `c` runs; a failure shows the end of its logs. */
  async expect<T>(c: Container, what: string, probe: () => Promise<T | undefined>, timeoutMs?: number): Promise<T> {
    try {
      return await waitFor(`${c.name}: ${what}`, async () => {
        await this.alive(c);
        return probe();
      }, timeoutMs);
    } catch (err) {
      if (err instanceof FatalError) throw err;
      throw new Error(`${(err as Error).message}; its logs end with:\n${tail(await this.logs(c))}`, { cause: err });
    }
  }

  async healthcheck(c: Container): Promise<void> {
    if (this.engine.name === 'podman') {
      await this.expect(c, 'its HEALTHCHECK', async () => ((await this.engine.run(['healthcheck', 'run', c.name])).code === 0 ? true : undefined), 60_000);
      return;
    }
    await this.expect(c, 'its HEALTHCHECK (Docker runs it every 15 s)', async () => {
      const s = await must(this.engine, ['inspect', '--format', '{{.State.Health.Status}}', c.name], `inspecting ${c.name}`);
      if (s === 'unhealthy') throw new FatalError(`${c.name} is unhealthy`);
      return s === 'healthy' ? true : undefined;
    }, 90_000);
  }

  /** SIGTERM, then the exit code and, for a service, its "shutdown complete" log line. */
  async stop(c: Container): Promise<string> {
    const started = Date.now();
    await must(this.engine, ['stop', '-t', String(STOP_GRACE_S), c.name], `stopping ${c.name}`);
    const took = elapsed(started);
    const s = await this.state(c);
    const logs = await this.logs(c);
    if (s.exitCode !== 0) throw new Error(`${c.name} exited with code ${s.exitCode} on SIGTERM (137: killed after the ${STOP_GRACE_S} s grace period):\n${tail(logs)}`);
    if (c.service && !/"msg":"shutdown complete"/.test(logs)) throw new Error(`${c.name} exited without logging "shutdown complete":\n${tail(logs)}`);
    return took;
  }
}

const tail = (text: string, lines = 30): string => text.trimEnd().split('\n').slice(-lines).join('\n');

async function smoke(engine: Engine, kafka: TestKafka, tags: Record<Target, string>, runId: string): Promise<void> {
  const check = new Check(engine, runId);
  const [octiPort, mdePort, listenerPort, writerPort, reporterPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const tenant = `images${runId}`;
  const mde = {
    tenant: `${tenant}.onmicrosoft.com`,
    clientId: '00000000-0000-4000-8000-000000000000',
    // A throwaway secret of the emulator, passed to both containers.
    secret: `images-check-${runId}`,
  };
  const opencti = { token: `images-token-${runId}`, stream: 'live-indicators' };
  const topics = { KAFKA_TOPIC_COMMANDS: `images.${runId}.commands`, KAFKA_TOPIC_DLQ: `images.${runId}.dlq` };
  const common = { KAFKA_BROKERS: kafka.brokers.join(','), SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS), CONNECTOR_LOG_LEVEL: 'info', ...topics };
  const octi = await check.start('opencti', tags.emulators, { HOST: '127.0.0.1', PORT: String(octiPort), OPENCTI_TOKEN: opencti.token, STREAM_ID: opencti.stream }, [
    'libs/emulators/src/bin/opencti.ts',
    '--generate',
    '50',
  ], { service: false });
  const defender = await check.start('defender', tags.emulators, { HOST: '127.0.0.1', PORT: String(mdePort), TENANT_ID: mde.tenant, CLIENT_ID: mde.clientId, CLIENT_SECRET: mde.secret }, [
    'libs/emulators/src/bin/defender.ts',
  ], { service: false });
  await check.expect(octi, 'the OpenCTI emulator answers', async () => {
    const res = await fetch(`http://127.0.0.1:${octiPort}/_emulator/state`, { signal: AbortSignal.timeout(3000) });
    await res.body?.cancel();
    return res.status < 500 ? true : undefined;
  });
  await check.expect(defender, 'the Defender emulator answers', () => httpOk(`http://127.0.0.1:${mdePort}/_emulator/indicators`));

  const listener = await check.start(
    'listener',
    tags['stream-listener'],
    {
      ...common,
      HTTP_PORT: String(listenerPort),
      OPENCTI_URL: `http://127.0.0.1:${octiPort}`,
      OPENCTI_TOKEN: opencti.token,
      CONNECTOR_LIVE_STREAM_ID: opencti.stream,
      CONNECTOR_LIVE_STREAM_RECOVER: 'true',
      KAFKA_TOPIC_CHECKPOINTS: `images.${runId}.checkpoints`,
      LISTENER_GROUP_ID: `images-${runId}-listener`,
    },
    [],
    { service: true, httpPort: listenerPort },
  );
  const writer = await check.start(
    'writer',
    tags['defender-writer'],
    {
      ...common,
      HTTP_PORT: String(writerPort),
      WRITER_TENANT_NAME: tenant,
      MICROSOFT_DEFENDER_INTEL_TENANT_ID: mde.tenant,
      MICROSOFT_DEFENDER_INTEL_CLIENT_ID: mde.clientId,
      MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: mde.secret,
      MICROSOFT_DEFENDER_INTEL_BASE_URL: `http://127.0.0.1:${mdePort}`,
      MICROSOFT_DEFENDER_INTEL_TOKEN_ENDPOINT: `http://127.0.0.1:${mdePort}/${mde.tenant}/oauth2/v2.0/token`,
    },
    [],
    { service: true, httpPort: writerPort },
  );
  const reporter = await check.start(
    'reporter',
    tags['sighting-reporter'],
    {
      KAFKA_BROKERS: common.KAFKA_BROKERS,
      SHUTDOWN_TIMEOUT_MS: common.SHUTDOWN_TIMEOUT_MS,
      CONNECTOR_LOG_LEVEL: 'info',
      HTTP_PORT: String(reporterPort),
      REPORTER_TENANT_NAME: tenant,
      KAFKA_TOPIC_SIGHTINGS: `images.${runId}.sightings`,
      REPORTER_POLL_INTERVAL_MS: '1000',
      REPORTER_OWNED_REFRESH_MS: '1000',
      OPENCTI_URL: `http://127.0.0.1:${octiPort}`,
      OPENCTI_TOKEN: opencti.token,
      MICROSOFT_DEFENDER_INTEL_TENANT_ID: mde.tenant,
      MICROSOFT_DEFENDER_INTEL_CLIENT_ID: mde.clientId,
      MICROSOFT_DEFENDER_INTEL_CLIENT_SECRET: mde.secret,
      MICROSOFT_DEFENDER_INTEL_BASE_URL: `http://127.0.0.1:${mdePort}`,
      MICROSOFT_DEFENDER_INTEL_TOKEN_ENDPOINT: `http://127.0.0.1:${mdePort}/${mde.tenant}/oauth2/v2.0/token`,
    },
    [],
    { service: true, httpPort: reporterPort },
  );

  for (const c of [listener, writer, reporter]) {
    for (const probe of ['healthz', 'readyz']) {
      const started = Date.now();
      await check.expect(c, `/${probe} 200`, () => httpOk(`http://127.0.0.1:${c.httpPort}/${probe}`));
      pass(`${c.name}: /${probe} 200 after ${elapsed(started)}`);
    }
  }
  const count = await check.expect(writer, 'indicators reach the Defender emulator', async () => {
    await check.alive(listener);
    const res = await fetch(`http://127.0.0.1:${mdePort}/_emulator/indicators`, { signal: AbortSignal.timeout(3000) });
    const held = (await res.json()) as unknown[];
    return held.length > 0 ? held.length : undefined;
  });
  pass(`the Defender emulator holds ${count} indicators from the OpenCTI emulator's stream`);

  // An alert on one of the writer's indicators whose evidence names it (a hash, an address, a URL or a domain).
  const held = (await (await fetch(`http://127.0.0.1:${mdePort}/_emulator/indicators`, { signal: AbortSignal.timeout(3000) })).json()) as { id: string; indicatorType: string }[];
  const target = held.find((i) => ['IpAddress', 'DomainName', 'Url', 'FileSha1', 'FileSha256'].includes(i.indicatorType));
  if (!target) throw new Error('no indicator an alert could name in the Defender emulator');
  const raised = await fetch(`http://127.0.0.1:${mdePort}/_emulator/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ indicatorId: target.id }),
    signal: AbortSignal.timeout(3000),
  });
  if (!raised.ok) throw new Error(`the Defender emulator did not raise the alert: ${raised.status} ${await raised.text()}`);
  const sighted = await check.expect(reporter, 'the alert becomes a sighting in the OpenCTI emulator', async () => {
    const res = await fetch(`http://127.0.0.1:${octiPort}/_emulator/sightings`, { signal: AbortSignal.timeout(3000) });
    const sightings = (await res.json()) as { attribute_count: number }[];
    return sightings.length === 1 && sightings[0]!.attribute_count === 1 ? sightings.length : undefined;
  });
  pass(`the OpenCTI emulator holds ${sighted} sighting (count 1) of the ${target.indicatorType} indicator the alert fired on`);

  for (const c of [listener, writer, reporter]) {
    await check.healthcheck(c);
    pass(`${c.name}: HEALTHCHECK passes`);
  }
  for (const c of [listener, writer, reporter, octi, defender]) {
    pass(`${c.name}: stopped gracefully (exit 0${c.service ? ', "shutdown complete"' : ''}) in ${await check.stop(c)}`);
  }
}

async function main(): Promise<void> {
  const started = Date.now();
  const engine = detectEngine();
  say(`engine: ${engine.name}`);
  mkdirSync(CACHE, { recursive: true });
  const runId = `${process.pid}${Date.now().toString(36).slice(-4)}`;
  const nodeImage = process.env.IMAGES_NODE_IMAGE ?? (engine.name === 'podman' ? await standInNodeImage(engine, say) : undefined);
  say(`base image: ${nodeImage ?? 'the Dockerfile default (node:24-bookworm-slim)'}`);
  const tags = Object.fromEntries(TARGETS.map((t) => [t, engine.image(`octi-defender/${t}:check-${runId}`)])) as Record<Target, string>;
  // The layers stay in the engine's cache for the next run; only this run's tags go.
  cleanups.push(async () => {
    for (const t of TARGETS) await engine.run(['rmi', tags[t]]);
  });
  try {
    const ca = hostCaBundle();
    say(ca === undefined ? 'no host CA bundle: npm ci trusts Node.js roots only' : `npm ci in the build trusts the host CA bundle ${ca} (a build secret)`);
    for (const t of TARGETS) await build(engine, t, tags[t], nodeImage, ca);
    const sizes: string[] = [];
    for (const t of TARGETS) {
      const facts = await imageFacts(engine, tags[t]);
      if (facts.user !== '1000:1000') throw new Error(`${t}: runs as "${facts.user}", not 1000:1000`);
      const test = facts.healthcheck?.Test ?? [];
      if (t === 'emulators') {
        if (test.length > 0 && test[0] !== 'NONE') throw new Error(`${t}: unexpected HEALTHCHECK ${test.join(' ')}`);
      } else if (!test.join(' ').includes('/healthz')) {
        throw new Error(`${t}: no HEALTHCHECK on /healthz in the image (${JSON.stringify(facts.healthcheck)}): was it built in Docker format?`);
      }
      sizes.push(`${t} ${(facts.size / 1e6).toFixed(0)} MB`);
    }
    pass(`image sizes: ${sizes.join(', ')} (uid 1000:1000; HEALTHCHECK on /healthz in the service images)`);
    // What the runtime does not need is gone (the three images share the runtime stage).
    await must(engine, ['run', '--rm', ...engine.runFlags, '--entrypoint', '/bin/sh', tags['stream-listener'], '-c', RUNTIME_TRIMMED], 'checking the runtime is trimmed');
    pass('the runtime holds node and tini, not npm, corepack or the C headers');
    // The operator's command line is on PATH in both service images (read-only root, uid 1000).
    for (const t of ['stream-listener', 'defender-writer'] as const) {
      const help = await must(engine, ['run', '--rm', ...engine.runFlags, '--read-only', '--user', '1000:1000', '--entrypoint', 'octi-defender', tags[t], '--help'], `running octi-defender in ${t}`);
      if (!help.includes('dlq redrive')) throw new Error(`octi-defender --help in ${t} lists no dlq redrive: ${help}`);
    }
    pass('octi-defender --help runs in the stream-listener and defender-writer images');
    const kafka = await startKafka();
    cleanups.push(() => kafka.stop());
    await smoke(engine, kafka, tags, runId);
  } finally {
    await cleanUp();
  }
  say(`all checks passed in ${elapsed(started)}`);
  console.log(`images: ${passedChecks} passed, 0 failed`);
}

try {
  await main();
} catch (err) {
  console.error(`images: ${err instanceof Error ? err.message : String(err)}`);
  console.log(`images: ${passedChecks} passed, 1 failed`);
  process.exitCode = 1;
}
