// The command table: every command of `octi-defender`, by name (one or two words).
import type { Command } from '../command.ts';
import { check } from './check.ts';
import { dlqList } from './dlq-list.ts';
import { dlqRedrive } from './dlq-redrive.ts';
import { reconcile } from './reconcile.ts';
import { replay } from './replay.ts';
import { resync } from './resync.ts';
import { status } from './status.ts';

export const commands: readonly Command[] = [check, status, dlqList, dlqRedrive, reconcile, resync, replay];
