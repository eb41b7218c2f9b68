// `octi-defender resync --stream <id>`: the listener's resync of a stream (its current state
// replayed, and the writers retract what it no longer asserts), through the control topic.
import type { Command, CommandIO } from '../command.ts';
import { commandOptions, runRequest } from '../control-client.ts';
import { EXIT, listenerVerdict } from '../control-progress.ts';

const USAGE = [
  'usage: octi-defender resync --stream <live stream id> [--timeout 10m] [--answer-timeout 15s]',
  'Replays the stream’s current state from OpenCTI and has the writers retract what it no longer asserts',
  '(after editing the stream’s filters in OpenCTI). Waits until the listener reports it done.',
  'Exit: 0 done, 1 refused, failed or not done in time, 2 usage, 3 Kafka unreachable or no listener answered.',
];

export const resync: Command = {
  name: 'resync',
  summary: 'replay a stream’s current state and retract what it no longer asserts',
  async run(args: readonly string[], io: CommandIO): Promise<number> {
    const options = commandOptions('resync', USAGE, args, { stream: { type: 'string' } }, io);
    if (typeof options === 'number') return options;
    const stream = options.values.stream;
    if (typeof stream !== 'string' || stream === '') {
      io.err('octi-defender resync: --stream <live stream id> is required');
      return EXIT.usage;
    }
    return runRequest(io, options, {
      request: { action: 'resync', stream },
      target: `a stream-listener following stream ${stream}`,
      verdict: listenerVerdict,
    });
  },
};
