// Prints the workspace folders a service's container image needs: the workspace itself and, following
// production `dependencies` only, every @octi-defender/* package it uses (transitively). The
// Dockerfile copies exactly these folders next to the production node_modules, so test helpers and
// emulators stay out of the service images.
//   node scripts/image-workspaces.ts services/stream-listener [services/cli]   (several: the union)
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = new URL('..', import.meta.url).pathname;

interface Manifest {
  readonly name: string;
  readonly dependencies?: Readonly<Record<string, string>>;
  readonly workspaces?: readonly string[];
}

function manifest(dir: string, root: string = ROOT): Manifest {
  return JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8')) as Manifest;
}

/** Workspace package name → folder, from the root manifest's `libs/*` and `services/*` globs. */
export function workspaceFolders(root: string = ROOT): Map<string, string> {
  const out = new Map<string, string>();
  const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest;
  for (const pattern of rootManifest.workspaces ?? []) {
    const parent = pattern.replace(/\/\*$/, '');
    for (const entry of readdirNames(join(root, parent))) {
      const dir = `${parent}/${entry}`;
      try {
        out.set(manifest(dir, root).name, dir);
      } catch {
        // a folder without package.json is not a workspace
      }
    }
  }
  return out;
}

function readdirNames(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name);
}

export function imageWorkspaces(workspace: string): string[] {
  const folders = workspaceFolders();
  const seen = new Set<string>();
  const visit = (dir: string): void => {
    if (seen.has(dir)) return;
    seen.add(dir);
    for (const dep of Object.keys(manifest(dir).dependencies ?? {})) {
      const depDir = folders.get(dep);
      if (depDir !== undefined) visit(depDir);
    }
  };
  visit(workspace.replace(/\/$/, ''));
  return [...seen].sort();
}

if (import.meta.main) {
  const workspaces = process.argv.slice(2);
  if (workspaces.length === 0) {
    console.error('usage: node scripts/image-workspaces.ts <workspace folder, e.g. services/stream-listener>…');
    process.exit(2);
  }
  console.log([...new Set(workspaces.flatMap((ws) => imageWorkspaces(ws)))].sort().join('\n'));
}
