// `octi-defender resync --stream <id>`: the listener's resync of a stream (its current state
// replayed, and the writers retract what it no longer asserts), through the control topic.
import { requestCommand } from '../control-client.ts';
import { EXIT, listenerVerdict } from '../control-progress.ts';

export const resync = requestCommand({
  name: 'resync',
  summary: 'replay a stream’s current state and retract what it no longer asserts',
  usage: [
    'usage: octi-defender resync --stream <live stream id> [--timeout 10m] [--answer-timeout 15s]',
    'Replays the stream’s current state from OpenCTI and has the writers retract what it no longer asserts',
    '(after editing the stream’s filters in OpenCTI). Waits until the listener reports it done.',
    'Exit: 0 done, 1 refused, failed or not done in time, 2 usage, 3 Kafka unreachable or no listener answered.',
  ],
  options: { stream: { type: 'string' } },
  build: ({ stream }, io) => {
    if (typeof stream !== 'string' || stream === '') {
      io.err('octi-defender resync: --stream <live stream id> is required');
      return EXIT.usage;
    }
    return { request: { action: 'resync', stream }, target: `a stream-listener following stream ${stream}`, verdict: listenerVerdict };
  },
});
