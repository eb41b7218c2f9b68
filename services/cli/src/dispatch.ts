// Picks the command named by the first words of the arguments and runs it; --help lists them.
import { EXIT, UsageError } from './args.ts';
import type { Command, CommandIO } from './command.ts';

export function findCommand(table: readonly Command[], argv: readonly string[]): { command: Command; rest: readonly string[] } | undefined {
  const byLength = [...table].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length);
  for (const c of byLength) {
    const words = c.name.split(' ');
    if (words.every((w, i) => argv[i] === w)) return { command: c, rest: argv.slice(words.length) };
  }
  return undefined;
}

function help(table: readonly Command[], io: CommandIO): void {
  io.out('usage: octi-defender <command> [options]   (octi-defender <command> --help for its options)');
  io.out('commands:');
  const width = Math.max(...table.map((c) => c.name.length));
  for (const c of table) io.out(`  ${c.name.padEnd(width)}  ${c.summary}`);
  io.out('Configured by the services’ environment variables (see the README’s Configuration).');
}

export async function dispatch(table: readonly Command[], argv: readonly string[], io: CommandIO): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    help(table, io);
    return argv.length === 0 ? EXIT.usage : EXIT.ok;
  }
  const found = findCommand(table, argv);
  if (!found) {
    io.err(`octi-defender: unknown command ${JSON.stringify(argv.filter((a) => !a.startsWith('-')).slice(0, 2).join(' '))}`);
    help(table, { ...io, out: io.err });
    return EXIT.usage;
  }
  try {
    return await found.command.run(found.rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`octi-defender ${found.command.name}: ${err.message} (see octi-defender ${found.command.name} --help)`);
      return EXIT.usage;
    }
    io.err(`octi-defender ${found.command.name}: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.attention;
  }
}
