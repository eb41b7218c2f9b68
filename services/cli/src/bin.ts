#!/usr/bin/env node
// `octi-defender <command>`: the operator's command line. Dispatches to the command table only.
import { commands } from './commands/index.ts';
import { dispatch } from './dispatch.ts';
import { processIO } from './io.ts';

process.exitCode = await dispatch(commands, process.argv.slice(2), processIO());
