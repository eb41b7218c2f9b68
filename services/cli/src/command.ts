// The contract between the dispatcher (bin.ts) and each command of the operator's command line.

export interface CommandIO {
  readonly env: NodeJS.ProcessEnv;
  readonly out: (line: string) => void; // stdout, one line
  readonly err: (line: string) => void; // stderr, one line
}

export interface Command {
  readonly name: string; // e.g. 'check', 'dlq list'
  readonly summary: string; // one line for --help
  run(args: readonly string[], io: CommandIO): Promise<number>; // the exit code
}
