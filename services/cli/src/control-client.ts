// Sends one operator request on the control topic and follows the services' answers until the
// request is finished (control-progress.ts decides), printing each answer as a line. Refuses
// clearly when Kafka is unreachable, when the control topic does not exist (no service ever ran
// with this KAFKA_TOPIC_CONTROL), and when no service answers in time (the target is not running).
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { connectKafka, CONTROL_SCHEMA_VERSION, decodeControl, encodeControl, unreachableKafka, type ControlReply, type ControlRequest, type Kafka, type KafkaLogger } from '@octi-defender/kafka';
import { ConfigError, kafkaEnv, kafkaProblems, loadConfig, type ConfigOf } from '@octi-defender/platform';
import type { Command, CommandIO } from './command.ts';
import { EXIT, type Verdict } from './control-progress.ts';

type ControlSettings = ConfigOf<typeof kafkaEnv>;

class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** kafkajs' own log lines stay out of the operator's output: failures are reported as sentences. */
const SILENT: KafkaLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** `30`, `30s`, `10m`, `1h` as milliseconds. */
function parseDuration(name: string, value: string): number {
  const m = /^(\d+)(s|m|h)?$/.exec(value);
  if (!m || Number(m[1]) < 1) throw new UsageError(`--${name} ${JSON.stringify(value)}: expected a duration such as 30s, 10m or 1h`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
}

interface RequestOptions {
  readonly values: Record<string, string | boolean | undefined>;
  /** Wait for a first answer this long (--answer-timeout, default 15 s). */
  readonly answerMs: number;
  /** Wait for completion this long (--timeout, default 10 min). */
  readonly timeoutMs: number;
}

/** Parses a command's options plus --timeout and --answer-timeout; throws UsageError. */
function parseRequestOptions(args: readonly string[], options: Record<string, { type: 'string' | 'boolean' }>): RequestOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...args],
      options: { ...options, timeout: { type: 'string' }, 'answer-timeout': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return {
    values,
    answerMs: parseDuration('answer-timeout', typeof values['answer-timeout'] === 'string' ? values['answer-timeout'] : '15s'),
    timeoutMs: parseDuration('timeout', typeof values.timeout === 'string' ? values.timeout : '10m'),
  };
}

/**
 * A command's options, or its exit code: usage printed on stdout for --help (0), on stderr with
 * the problem for a bad option (2).
 */
function commandOptions(name: string, usage: readonly string[], args: readonly string[], spec: Record<string, { type: 'string' | 'boolean' }>, io: CommandIO): RequestOptions | number {
  try {
    const options = parseRequestOptions(args, spec);
    if (options.values.help) {
      usage.forEach((l) => io.out(l));
      return EXIT.ok;
    }
    return options;
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`octi-defender ${name}: ${err.message}`);
    usage.forEach((l) => io.err(l));
    return EXIT.usage;
  }
}

function loadControlSettings(env: NodeJS.ProcessEnv): ControlSettings {
  const c = loadConfig(kafkaEnv, env);
  const problems = kafkaProblems(c);
  if (problems.length > 0) throw new ConfigError(problems);
  return c;
}

function describe(r: ControlReply): string {
  const who = r.service === 'defender-writer' ? `defender-writer ${r.tenant ?? ''} ${r.instance}` : `stream-listener ${r.instance}`;
  return `[${who.replace(/\s+/g, ' ').trim()}] ${r.status}: ${r.detail}`;
}

interface Dispatch {
  readonly request: Pick<ControlRequest, 'action' | 'stream' | 'tenant' | 'from'>;
  /** Who should answer, for the refusal when nobody does, e.g. "a stream-listener following stream X". */
  readonly target: string;
  readonly verdict: (replies: readonly ControlReply[], now: number) => Verdict;
  /** Runs once Kafka is connected, before the request is sent (e.g. to read a partition count). */
  readonly prepare?: (kafka: Kafka, settings: ControlSettings) => Promise<void>;
}

/** Sends the request and follows it; returns the exit code. */
async function runRequest(io: CommandIO, options: RequestOptions, dispatch: Dispatch): Promise<number> {
  let settings: ControlSettings;
  try {
    settings = loadControlSettings(io.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) io.err(`configuration: ${p}`);
    return EXIT.usage;
  }
  const kafka = connectKafka(settings, 'octi-defender-cli', SILENT);
  try {
    return await follow(io, options, dispatch, kafka, settings);
  } catch (err) {
    io.err(unreachableKafka(err, settings) ?? `Kafka failed: ${err instanceof Error ? err.message : String(err)}`);
    return EXIT.unreachable;
  } finally {
    await kafka.close().catch(() => undefined);
  }
}

async function follow(io: CommandIO, options: RequestOptions, dispatch: Dispatch, kafka: Kafka, settings: ControlSettings): Promise<number> {
  const admin = await kafka.admin();
  try {
    const topics = await admin.listTopics();
    if (!topics.includes(settings.controlTopic)) {
      io.err(
        `the control topic ${settings.controlTopic} does not exist: no stream-listener or defender-writer has run with this KAFKA_TOPIC_CONTROL on these brokers, so no service can act on the request`,
      );
      return EXIT.unreachable;
    }
  } finally {
    await admin.close();
  }
  await dispatch.prepare?.(kafka, settings);
  const now = new Date();
  const request: ControlRequest = {
    schemaVersion: CONTROL_SCHEMA_VERSION,
    kind: 'request',
    requestId: randomUUID(),
    ...dispatch.request,
    at: now.toISOString(),
    expiresAt: new Date(now.getTime() + options.timeoutMs).toISOString(),
  };
  const replies: ControlReply[] = [];
  let wake: (() => void) | undefined;
  // Read from the start of the (small) topic so no answer can come before this reader is placed.
  const consumer = await kafka.consumer({ groupId: `octi-defender-cli.${request.requestId}`, topics: [settings.controlTopic], fromBeginning: true, maxWaitTimeMs: 200 });
  try {
    await consumer.run(async (batch) => {
      for (const r of batch.records) {
        const c = decodeControl(r.value);
        if (c?.kind === 'reply' && c.requestId === request.requestId) {
          replies.push(c);
          io.out(describe(c));
          wake?.();
        }
        batch.resolveOffset(r.offset);
      }
      return Promise.resolve();
    });
    const producer = await kafka.producer();
    try {
      await producer.send([{ topic: settings.controlTopic, key: request.requestId, value: encodeControl(request) }]);
    } finally {
      await producer.close();
    }
    io.out(
      `request ${request.requestId}: ${request.action}${request.stream ? ` of stream ${request.stream}` : ''}${
        request.tenant ? ` of tenant ${request.tenant}` : request.action === 'reconcile' ? ' of every tenant' : ''
      }${request.from ? ` from ${request.from}` : ''} sent; waiting for ${dispatch.target}`,
    );
    const sentAt = Date.now();
    for (;;) {
      const verdict = dispatch.verdict(replies, Date.now());
      if (verdict.finished) {
        if (verdict.summary) (verdict.exit === EXIT.ok ? io.out : io.err)(verdict.summary);
        return verdict.exit ?? EXIT.attention;
      }
      const waited = Date.now() - sentAt;
      if (replies.length === 0 && waited >= options.answerMs) {
        io.err(`no answer from ${dispatch.target} within ${Math.round(options.answerMs / 1000)} s: it is not running, or not reading ${settings.controlTopic} (KAFKA_TOPIC_CONTROL); nothing was done`);
        return EXIT.unreachable;
      }
      if (waited >= options.timeoutMs) {
        io.err(`not finished after ${Math.round(options.timeoutMs / 1000)} s; the service stops following the request now (its last answer is above)`);
        return EXIT.attention;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 250);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      wake = undefined;
    }
  } finally {
    await consumer.close();
  }
}

/**
 * A command that sends one request: its options (plus --timeout, --answer-timeout, --help), then
 * `build` turns them into the request to send, or an exit code after saying what is wrong.
 */
export function requestCommand(spec: {
  readonly name: string;
  readonly summary: string;
  readonly usage: readonly string[];
  readonly options: Record<string, { type: 'string' | 'boolean' }>;
  readonly build: (values: RequestOptions['values'], io: CommandIO) => Dispatch | number;
}): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    async run(args: readonly string[], io: CommandIO): Promise<number> {
      const options = commandOptions(spec.name, spec.usage, args, spec.options, io);
      if (typeof options === 'number') return options;
      const dispatch = spec.build(options.values, io);
      return typeof dispatch === 'number' ? dispatch : runRequest(io, options, dispatch);
    },
  };
}
