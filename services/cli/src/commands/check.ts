// `octi-defender check`: verifies the configuration against the live systems before anything runs.
import { checkExitCode, checkSummary, renderCheck, type CheckResult } from '../findings.ts';
import { EXIT, parseOptions } from '../args.ts';
import { checkDefender } from '../check/defender.ts';
import { checkKafka, STATUS_TOPIC, type NeededTopic } from '../check/kafka.ts';
import { checkOpencti } from '../check/opencti.ts';
import type { Command } from '../command.ts';
import { openKafka } from '../kafka.ts';
import { loadSettings, type Settings } from '../settings.ts';

const USAGE = [
  'usage: octi-defender check [--json]',
  '  Checks, with the services’ environment variables: OpenCTI reachable, its token accepted, each live',
  '  stream readable (listener variables); an Entra token for the app with Ti.ReadWrite.All in its roles',
  '  and a Defender list call (writer variables); Kafka reachable and the topics the services use.',
  '  Exit 0 when every check passes, 1 when one fails, 2 for a configuration or usage error.',
];

function neededTopics(s: Settings): NeededTopic[] {
  const out = new Map<string, NeededTopic>();
  const add = (t: NeededTopic): void => void (out.has(t.name) || out.set(t.name, t));
  if (s.kafka.ok) {
    add({ name: s.kafka.config.commandsTopic, variable: 'KAFKA_TOPIC_COMMANDS', role: 'commands' });
    add({ name: s.kafka.config.dlqTopic, variable: 'KAFKA_TOPIC_DLQ', role: 'dlq' });
  }
  if (s.listener?.ok) add({ name: s.listener.config.checkpointsTopic, variable: 'KAFKA_TOPIC_CHECKPOINTS', role: 'checkpoints' });
  if (s.writer?.ok) add({ name: s.writer.config.stateTopic, variable: 'KAFKA_TOPIC_STATE / WRITER_TENANT_NAME', role: 'state' });
  add(STATUS_TOPIC);
  return [...out.values()];
}

function configResults(what: string, problems: readonly string[]): CheckResult[] {
  return problems.map((p) => ({ name: `${what} configuration`, ok: false, detail: p, fix: 'set the variable as described' }));
}

export const check: Command = {
  name: 'check',
  summary: 'verify the configuration against OpenCTI, Entra/Defender and Kafka; says what to fix',
  async run(args, io) {
    const { values } = parseOptions(args, { json: { type: 'boolean' } });
    if (values.help) {
      USAGE.forEach((l) => io.out(l));
      return EXIT.ok;
    }
    const s = loadSettings(io.env);
    if (s.listener === undefined && s.writer === undefined && s.kafka.ok) {
      io.err(
        'check: only Kafka is configured; set the stream-listener variables (OPENCTI_URL, OPENCTI_TOKEN, CONNECTOR_LIVE_STREAM_ID) and/or the defender-writer ones (WRITER_TENANT_NAME, MICROSOFT_DEFENDER_INTEL_*) to check them too',
      );
    }
    const results: CheckResult[] = [];
    const emit = (rs: readonly CheckResult[]): void => {
      results.push(...rs);
      if (!values.json) rs.forEach((r) => io.out(renderCheck(r)));
    };
    emit(configResults('Kafka', s.kafka.ok ? [] : s.kafka.problems));
    if (s.listener) emit(s.listener.ok ? await checkOpencti(s.listener.config) : configResults('stream-listener', s.listener.problems));
    if (s.writer) emit(s.writer.ok ? await checkDefender(s.writer.config) : configResults('defender-writer', s.writer.problems));
    if (s.kafka.ok) {
      const kafka = openKafka(s.kafka.config);
      try {
        emit((await checkKafka(s.kafka.config, kafka, neededTopics(s))).results);
      } finally {
        await kafka.close();
      }
    }
    const code = checkExitCode(results);
    if (values.json) io.out(JSON.stringify({ ok: code === 0, checks: results }));
    else io.out(checkSummary(results));
    return code;
  },
};
