// The command table: every command of `octi-defender`, by name.
import type { Command } from '../command.ts';
import { reconcile } from './reconcile.ts';
import { replay } from './replay.ts';
import { resync } from './resync.ts';

export const commands: readonly Command[] = [reconcile, resync, replay];
