// @octi-defender/cli: the command contract and table, for tools that embed the command line.
export type { Command, CommandIO } from './command.ts';
export { commands } from './commands/index.ts';
export { dispatch } from './dispatch.ts';
