// The command table: every command of `octi-defender`, by name (one or two words).
import type { Command } from '../command.ts';
import { check } from './check.ts';

export const commands: readonly Command[] = [check];
