// `octi-defender replay --stream <id> --from <date|event id>`: the listener reads the stream again
// from that position (an OpenCTI event id `<ms>-<seq>`, `0`, or an ISO 8601 date as `<ms>-0`),
// through its checkpoint; commands replayed are idempotent for the writers.
import { replayPosition } from '@octi-defender/kafka';
import { requestCommand } from '../control-client.ts';
import { EXIT, listenerVerdict } from '../control-progress.ts';

export const replay = requestCommand({
  name: 'replay',
  summary: 'read a stream again from an event id or a date',
  usage: [
    'usage: octi-defender replay --stream <live stream id> --from <date|event id> [--timeout 10m] [--answer-timeout 15s]',
    'Reads the stream again from an OpenCTI event id (<ms>-<seq>, 0 for the beginning) or an ISO 8601 date,',
    'up to where it was. A replay goes back only. Waits until the listener reports it done.',
    'Exit: 0 done, 1 refused, failed or not done in time, 2 usage, 3 Kafka unreachable or no listener answered.',
  ],
  options: { stream: { type: 'string' }, from: { type: 'string' } },
  build: ({ stream, from }, io) => {
    if (typeof stream !== 'string' || stream === '' || typeof from !== 'string') {
      io.err('octi-defender replay: --stream <live stream id> and --from <date|event id> are required');
      return EXIT.usage;
    }
    const position = replayPosition(from);
    if (position === undefined) {
      io.err(`octi-defender replay: --from ${JSON.stringify(from)}: expected an OpenCTI event id (1700000000000-0), 0, or an ISO 8601 date (2026-12-06T10:00:00Z)`);
      return EXIT.usage;
    }
    return { request: { action: 'replay', stream, from: position }, target: `a stream-listener following stream ${stream}`, verdict: listenerVerdict };
  },
});
