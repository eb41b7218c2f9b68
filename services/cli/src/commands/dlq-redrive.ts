// `octi-defender dlq redrive`: re-publishes the selected dead letters through the normal path (the
// commands topic), each with a redrive marker in the same Kafka transaction, so that a second
// redrive of the same letter is skipped; the writer's application is idempotent besides.
import { EXIT, parseOptions, UsageError } from '../args.ts';
import type { Command } from '../command.ts';
import { CLI_ORIGIN, isEmptyFilter, matches, REDRIVEN_OP } from '../dlq/letters.ts';
import { withKafka } from '../dlq/open.ts';
import { FILTER_OPTIONS, FILTER_USAGE, filterFrom } from '../dlq/options.ts';
import { latestCommands, readDlq } from '../dlq/read.ts';
import { needsCommandLookup, planRedrive } from '../dlq/redrive-plan.ts';
import { CLI_CLIENT_ID } from '../kafka.ts';

const USAGE = [
  'usage: octi-defender dlq redrive <filters | --all> [--dry-run] [--force] [--json]',
  '  Re-publishes the selected dead letters to KAFKA_TOPIC_COMMANDS: a writer letter as the latest command of',
  '  each source for its key (or the record it could not decode), a listener letter as the commands of its',
  '  event normalized again. Fix the cause first (e.g. the writer’s policy), then redrive. A redriven letter is',
  '  marked on the dead-letter topic and skipped by later redrives (--force re-sends it anyway).',
  ...FILTER_USAGE,
  '  --all                       every dead letter (no filter)',
  '  --dry-run                   say what would be published, publish nothing',
];

export const dlqRedrive: Command = {
  name: 'dlq redrive',
  summary: 're-publish selected dead letters through the normal path, once (--dry-run to preview)',
  async run(args, io) {
    const { values } = parseOptions(args, { ...FILTER_OPTIONS, all: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, force: { type: 'boolean' }, json: { type: 'boolean' } });
    if (values.help) {
      USAGE.forEach((l) => io.out(l));
      return EXIT.ok;
    }
    const filter = filterFrom(values, Date.now());
    if (isEmptyFilter(filter) && !values.all) throw new UsageError('select the dead letters to redrive (--id, --reason, --key, --service, --since/--until) or pass --all');
    const dryRun = values['dry-run'] === true;
    return withKafka('dlq redrive', io, async (kafka, c) => {
      const view = await readDlq(kafka, c.dlqTopic);
      const selected = view.letters.filter((l) => matches(l, filter));
      const lookup = new Set(selected.filter((l) => needsCommandLookup(l) && (values.force || !view.redriven.has(l.id))).map((l) => l.key));
      const latest = await latestCommands(kafka, c.commandsTopic, lookup);
      const report: { id: string; outcome: 'redriven' | 'would-redrive' | 'already-redriven' | 'skipped'; commands: number; why?: string }[] = [];
      const sentKeys = new Map<string, string>();
      const producer = dryRun ? undefined : await kafka.transactionalProducer(`${CLI_CLIENT_ID}.redrive.${c.dlqTopic}`);
      try {
        for (const l of selected) {
          const marker = view.redriven.get(l.id);
          if (marker && !values.force) {
            report.push({ id: l.id, outcome: 'already-redriven', commands: 0, why: `redriven ${new Date(marker.at).toISOString()}` });
            continue;
          }
          // Two letters of one key (refused twice): its latest commands go once, the second gets its marker only.
          const coveredBy = needsCommandLookup(l) ? sentKeys.get(l.key) : undefined;
          const step = coveredBy !== undefined ? { action: 'publish' as const, records: [] } : planRedrive(l, c.commandsTopic, latest, new Date());
          if (step.action === 'skip') {
            report.push({ id: l.id, outcome: 'skipped', commands: 0, why: step.why });
            continue;
          }
          if (producer) {
            const at = new Date().toISOString();
            await producer.transaction(async (tx) => {
              await tx.send([
                ...step.records,
                {
                  topic: c.dlqTopic,
                  key: `redrive:${l.id}`,
                  value: JSON.stringify({ origin: CLI_ORIGIN, letterId: l.id, at, commands: step.records.length }),
                  headers: { origin: CLI_ORIGIN, op: REDRIVEN_OP },
                },
              ]);
            });
          }
          if (needsCommandLookup(l)) sentKeys.set(l.key, coveredBy ?? l.id);
          report.push({
            id: l.id,
            outcome: producer ? 'redriven' : 'would-redrive',
            commands: step.records.length,
            ...(coveredBy !== undefined && { why: `its key's commands went with ${coveredBy}` }),
          });
        }
      } finally {
        await producer?.close();
      }
      if (values.json) io.out(JSON.stringify({ dryRun, letters: report }));
      else {
        for (const r of report) {
          const l = selected.find((x) => x.id === r.id)!;
          const what = `${r.id} ${l.service} ${l.reason} ${l.key}`;
          if (r.outcome === 'redriven' || r.outcome === 'would-redrive') {
            io.out(`${r.outcome === 'redriven' ? 'redriven' : 'would redrive'} ${what}: ${r.commands} command${r.commands === 1 ? '' : 's'} → ${c.commandsTopic}${r.why ? ` (${r.why})` : ''}`);
          } else io.out(`skipped ${what}: ${r.why}`);
        }
        const done = report.filter((r) => r.outcome === 'redriven' || r.outcome === 'would-redrive').length;
        io.out(`${dryRun ? 'dry run: would redrive' : 'redriven'} ${done} of ${selected.length} selected dead letters`);
      }
      return report.some((r) => r.outcome === 'skipped') ? EXIT.attention : EXIT.ok;
    });
  },
};
