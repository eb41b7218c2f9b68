#!/usr/bin/env node
// `octi-defender <command>`: the operator's command line (minimal dispatcher of this branch; the
// command line's own branch brings the full one).
import { commands } from './commands/index.ts';

const [name, ...rest] = process.argv.slice(2);
const out = (line: string): void => void process.stdout.write(`${line}\n`);
const err = (line: string): void => void process.stderr.write(`${line}\n`);
const command = commands.find((c) => c.name === name);
if (!command) {
  (name === undefined || name === '--help' ? out : err)('usage: octi-defender <command> [options]');
  for (const c of commands) (name === undefined || name === '--help' ? out : err)(`  ${c.name.padEnd(10)} ${c.summary}`);
  process.exitCode = name === '--help' ? 0 : 2;
} else {
  process.exitCode = await command.run(rest, { env: process.env, out, err });
}
