// `octi-defender status`: is it in sync? Per stream the listener's position and its age and the
// active replica; per tenant the writers, their partitions and lag, what they hold against the cap,
// held-back keys, the breaker, the last reconciliation and its drift; dead letters by reason.
import { EXIT, parseOptions, parsePositiveInt } from '../args.ts';
import type { Command } from '../command.ts';
import { withKafka } from '../dlq/open.ts';
import { loadSettings } from '../settings.ts';
import { evaluateStatus, renderStatus } from '../status/evaluate.ts';
import { gatherStatus } from '../status/gather.ts';

const USAGE = [
  'usage: octi-defender status [--tenant name]… [--keys] [--max-lag n] [--stale-after seconds] [--json]',
  '  Reads Kafka only: the services’ status snapshots (topic octi-defender.status), the listener’s checkpoints',
  '  and lease group, each tenant’s consumer group and the dead-letter topic. Tenants: those whose writers',
  '  publish snapshots, and WRITER_TENANT_NAME when set. Exit 1 when something needs attention: no active',
  '  listener, a stale stream position, no live writer, a paused writer or open breaker, a lag over --max-lag,',
  '  a writer short of room under the cap.',
  '  --tenant <name>             only this tenant (repeatable); default: every tenant with a writer seen in the last day',
  '  --keys                      also count the configured tenant’s keys from its state topic (reads the whole topic;',
  '                              needs the writer’s variables): in Defender, waiting, refused, not sent by policy (by reason)',
  '  --max-lag <n>               commands behind per tenant before it needs attention (default 1000)',
  '  --stale-after <seconds>     age of a stream position before it needs attention (default 600)',
];

export const status: Command = {
  name: 'status',
  summary: 'is it in sync: listener positions, writers, lag, cap, breaker, reconciliation, dead letters',
  async run(args, io) {
    const { values } = parseOptions(args, {
      tenant: { type: 'string', multiple: true },
      keys: { type: 'boolean' },
      'max-lag': { type: 'string' },
      'stale-after': { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) {
      USAGE.forEach((l) => io.out(l));
      return EXIT.ok;
    }
    const maxLag = values['max-lag'] === undefined ? 1000 : values['max-lag'] === '0' ? 0 : parsePositiveInt('max-lag', values['max-lag'] as string);
    const staleAfterMs = (values['stale-after'] === undefined ? 600 : parsePositiveInt('stale-after', values['stale-after'] as string)) * 1000;
    return withKafka('status', io, async (kafka) => {
      const input = await gatherStatus(kafka, loadSettings(io.env), io.env, Date.now, (values.tenant as string[] | undefined) ?? [], values.keys === true);
      const report = evaluateStatus(input, { maxLag, staleAfterMs });
      if (values.json) io.out(JSON.stringify(report, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
      else renderStatus(report, input.now).forEach((l) => io.out(l));
      return report.exitCode;
    });
  },
};
