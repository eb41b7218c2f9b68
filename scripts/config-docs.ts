// Renders each service's configuration spec as a Markdown table into README.md, between
// `<!-- config:<service> -->` and `<!-- /config:<service> -->` markers, so the docs cannot drift from
// the code. `--check` exits non-zero when README.md is stale (the test suite runs the check).
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ConfigSpec } from '@octi-defender/platform';
import { listenerEnv } from '../services/stream-listener/src/config.ts';
import { writerEnv } from '../services/defender-writer/src/config.ts';
import { reporterEnv } from '../services/sighting-reporter/src/config.ts';

export const services: ReadonlyArray<{ name: string; spec: ConfigSpec }> = [
  { name: 'stream-listener', spec: listenerEnv },
  { name: 'defender-writer', spec: writerEnv },
  { name: 'sighting-reporter', spec: reporterEnv },
];

export const README = fileURLToPath(new URL('../README.md', import.meta.url));

const cell = (s: string): string => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

export function renderTable(spec: ConfigSpec): string {
  const rows = Object.values(spec).map((v) => {
    const required = v.default === undefined && !v.optional ? 'yes' : 'no';
    const def = v.default === undefined ? '' : `\`${v.default}\``;
    const secret = v.secret ? ' (secret)' : '';
    return `| \`${v.env}\` | ${required} | ${cell(def)} | ${cell(v.description)}${secret}. Form: ${cell(v.format)}. |`;
  });
  return ['| Variable | Required | Default | Description |', '|---|---|---|---|', ...rows].join('\n');
}

export function render(readme: string): string {
  let out = readme;
  for (const { name, spec } of services) {
    const start = `<!-- config:${name} -->`;
    const end = `<!-- /config:${name} -->`;
    const i = out.indexOf(start);
    const j = out.indexOf(end);
    if (i < 0 || j < i) throw new Error(`README.md lacks the ${start} … ${end} markers`);
    out = `${out.slice(0, i + start.length)}\n${renderTable(spec)}\n${out.slice(j)}`;
  }
  return out;
}

if (import.meta.main) {
  const current = readFileSync(README, 'utf8');
  const next = render(current);
  if (process.argv.includes('--check')) {
    if (next !== current) {
      console.error('README.md configuration tables are stale: run `npm run docs`');
      process.exitCode = 1;
    }
  } else if (next !== current) {
    writeFileSync(README, next);
    console.log('README.md configuration tables updated');
  }
}
