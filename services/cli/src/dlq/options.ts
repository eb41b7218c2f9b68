// The selection options shared by `dlq list` and `dlq redrive`.
import { parseTime, UsageError, type OptionSpec, type Parsed } from '../args.ts';
import type { LetterFilter, Service } from './letters.ts';

export const FILTER_OPTIONS: OptionSpec = {
  service: { type: 'string' },
  reason: { type: 'string', multiple: true },
  key: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  id: { type: 'string', multiple: true },
};

export const FILTER_USAGE = [
  '  --service listener|writer   only the dead letters of that service',
  '  --reason <reason>           only this reason (repeatable), e.g. defender_rejected, normalize_error',
  '  --key <key>                 the indicator key (writer, e.g. IpAddress:203.0.113.7) or <stream>:<event id> (listener); a trailing * matches a prefix',
  '  --since <t>, --until <t>    when the service wrote it: an ISO 8601 date or a duration back from now (30m, 12h, 7d)',
  '  --id <partition:offset>     one dead letter, as listed (repeatable)',
];

const SERVICES: Record<string, Service> = { listener: 'stream-listener', 'stream-listener': 'stream-listener', writer: 'defender-writer', 'defender-writer': 'defender-writer' };

export function filterFrom(values: Parsed['values'], now: number): LetterFilter {
  const service = values.service as string | undefined;
  if (service !== undefined && SERVICES[service] === undefined) throw new UsageError(`--service ${JSON.stringify(service)}: expected listener or writer`);
  const ids = (values.id as string[] | undefined) ?? [];
  for (const id of ids) if (!/^\d+:\d+$/.test(id)) throw new UsageError(`--id ${JSON.stringify(id)}: expected <partition>:<offset> as dlq list shows it`);
  return {
    service: service === undefined ? undefined : SERVICES[service],
    reasons: (values.reason as string[] | undefined) ?? [],
    key: values.key as string | undefined,
    since: values.since === undefined ? undefined : parseTime('since', values.since as string, now),
    until: values.until === undefined ? undefined : parseTime('until', values.until as string, now),
    ids,
  };
}
