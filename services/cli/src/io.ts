// The standard streams of a command, with every configured secret value scrubbed from each line, so
// that an error message echoing a token or a password cannot leak it.
import { REDACTED, secretValues } from '@octi-defender/platform';
import { writerEnv } from '@octi-defender/defender-writer/config';
import { listenerEnv } from '@octi-defender/stream-listener';
import type { CommandIO } from './command.ts';

export function scrubber(env: NodeJS.ProcessEnv): (line: string) => string {
  const secrets = [...new Set([...secretValues(listenerEnv, env), ...secretValues(writerEnv, env)])]
    .filter((s) => s.length >= 4)
    .sort((a, b) => b.length - a.length);
  return (line) => secrets.reduce((l, s) => l.split(s).join(REDACTED), line);
}

export function processIO(env: NodeJS.ProcessEnv = process.env): CommandIO {
  const scrub = scrubber(env);
  return {
    env,
    out: (line) => void process.stdout.write(`${scrub(line)}\n`),
    err: (line) => void process.stderr.write(`${scrub(line)}\n`),
  };
}
