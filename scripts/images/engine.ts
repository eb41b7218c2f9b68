// The container engine of `npm run images:test`: Docker when an engine answers (a developer's
// machine), else podman, set up for machines like CI's: rootful, `runc` (crun refuses hybrid cgroup
// hierarchies), the `cgroupfs` cgroup manager and file events (no systemd), explicit ulimits (the
// engine's defaults are above the host's hard limits, which a container may not raise), and host
// networking for every build and container (no bridge, no firewall rule is ever created).
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Result {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export interface Engine {
  readonly name: 'docker' | 'podman';
  /** Name the engine gives an image built with `-t octi-defender/…` (podman adds `localhost/`). */
  image(name: string): string;
  /** Flags for `build` and `run` beyond the command's own. */
  readonly buildFlags: readonly string[];
  readonly runFlags: readonly string[];
  run(args: readonly string[], opts?: { logFile?: number }): Promise<Result>;
}

export const INSTALL_HINT = 'install podman with `npm run images:tools` (Debian: apt-get install podman buildah debootstrap runc), or start a Docker engine';

function exec(cmd: string, args: readonly string[], logFile?: number): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', logFile ?? 'pipe', logFile ?? 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

const answers = (cmd: string, args: string[]): boolean => {
  const r = spawnSync(cmd, args, { stdio: 'ignore', timeout: 15_000 });
  return r.error === undefined && r.status === 0;
};

/** Soft limit of one resource of this process, from /proc/self/limits (Linux). */
function softLimit(resource: string): number | undefined {
  let text: string;
  try {
    text = readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return undefined;
  }
  const line = text.split('\n').find((l) => l.startsWith(resource));
  const soft = line?.slice(resource.length).trim().split(/\s+/)[0];
  return soft === undefined || soft === 'unlimited' ? undefined : Number(soft);
}

// A service needs few processes: well under any host's limit (runc fails to set one at the limit).
const NPROC = 4096;

export function podmanUlimits(): string[] {
  const nofile = softLimit('Max open files') ?? 1024;
  const nproc = Math.min(NPROC, softLimit('Max processes') ?? NPROC);
  return ['--ulimit', `nofile=${nofile}:${nofile}`, '--ulimit', `nproc=${nproc}:${nproc}`];
}

/** IMAGES_ENGINE=docker|podman forces one; otherwise Docker if its engine answers, else podman. */
export function detectEngine(env: NodeJS.ProcessEnv = process.env): Engine {
  const wanted = env.IMAGES_ENGINE;
  if (wanted !== undefined && wanted !== 'docker' && wanted !== 'podman') throw new Error(`IMAGES_ENGINE must be docker or podman, not ${wanted}`);
  if (wanted !== 'podman' && answers('docker', ['info'])) {
    return {
      name: 'docker',
      image: (name) => name,
      buildFlags: ['--network', 'host'],
      runFlags: ['--network', 'host'],
      run: (args, opts) => exec('docker', args, opts?.logFile),
    };
  }
  if (wanted === 'docker') throw new Error('IMAGES_ENGINE=docker but no Docker engine answers (docker info)');
  if (!answers('podman', ['--version'])) throw new Error(`no container engine: podman is missing and no Docker engine answers; ${INSTALL_HINT}`);
  const global = ['--cgroup-manager=cgroupfs', '--events-backend=file', ...(answers('runc', ['--version']) ? ['--runtime=runc'] : [])];
  const ulimits = podmanUlimits();
  return {
    name: 'podman',
    image: (name) => `localhost/${name}`,
    // Docker format: the OCI image format has no HEALTHCHECK.
    buildFlags: ['--format', 'docker', '--network', 'host', ...ulimits],
    // Only /tmp is writable (--tmpfs /tmp below), as in compose and Kubernetes; no systemd timer
    // for the HEALTHCHECK (the check runs it with `podman healthcheck run`).
    runFlags: ['--network', 'host', '--read-only-tmpfs=false', '--health-interval=disable', ...ulimits],
    run: (args, opts) => exec('podman', [...global, ...args], opts?.logFile),
  };
}
