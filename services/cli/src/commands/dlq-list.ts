// `octi-defender dlq list`: the dead letters of both services, filtered, with Defender's code and message.
import { EXIT, parseOptions, parsePositiveInt } from '../args.ts';
import type { Command } from '../command.ts';
import { matches, renderLetter } from '../dlq/letters.ts';
import { withKafka } from '../dlq/open.ts';
import { FILTER_OPTIONS, FILTER_USAGE, filterFrom } from '../dlq/options.ts';
import { readDlq } from '../dlq/read.ts';

const USAGE = [
  'usage: octi-defender dlq list [filters] [--limit n] [--json]',
  '  Lists the dead letters on KAFKA_TOPIC_DLQ, oldest first: id (partition:offset), when, service, reason,',
  '  key, and Defender’s status, code and message (or the service’s reason); [redriven …] once redriven.',
  ...FILTER_USAGE,
  '  --limit <n>                 the newest n only',
];

export const dlqList: Command = {
  name: 'dlq list',
  summary: 'list dead letters (filter by service, reason, key, time) with Defender’s code and message',
  async run(args, io) {
    const { values } = parseOptions(args, { ...FILTER_OPTIONS, limit: { type: 'string' }, json: { type: 'boolean' } });
    if (values.help) {
      USAGE.forEach((l) => io.out(l));
      return EXIT.ok;
    }
    const filter = filterFrom(values, Date.now());
    const limit = values.limit === undefined ? undefined : parsePositiveInt('limit', values.limit as string);
    return withKafka('dlq list', io, async (kafka, c) => {
      const view = await readDlq(kafka, c.dlqTopic);
      let selected = view.letters.filter((l) => matches(l, filter));
      if (limit !== undefined) selected = selected.slice(-limit);
      if (values.json) {
        io.out(JSON.stringify({
          topic: c.dlqTopic,
          letters: selected.map((l) => ({
            ...l,
            offset: l.offset.toString(),
            at: new Date(l.at).toISOString(),
            redriven: view.redriven.has(l.id) ? new Date(view.redriven.get(l.id)!.at).toISOString() : null,
          })),
          unreadable: view.unreadable,
        }));
        return EXIT.ok;
      }
      for (const l of selected) io.out(renderLetter(l, view.redriven.get(l.id)));
      for (const u of view.unreadable) io.err(`dlq list: record ${u.id} is not a dead letter this tool reads (${u.why})`);
      io.out(`${selected.length} of ${view.letters.length} dead letters on ${c.dlqTopic}`);
      return EXIT.ok;
    });
  },
};
