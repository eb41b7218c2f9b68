// kafkajs log entries → a pino-like logger `{debug,info,warn,error}(obj, msg)`.
// kafkajs logs every failed attempt at ERROR, including the transient answers of a healthy cluster
// (a coordinator still loading after a start, a transaction still completing, a rebalance), and then
// retries it; what fails for good is thrown to its caller, which reports it. So an attempt's error
// is not an error line: responses and send retries go to debug, connection trouble and a member
// re-joining its group to warn. kafkajs' own failures (a consumer crash, a failing handler) stay
// errors.
import { logLevel } from 'kafkajs';
import type { logCreator } from 'kafkajs';
import type { KafkaLogger } from '../port.ts';

type Level = 'debug' | 'info' | 'warn' | 'error';

const ATTEMPTS: ReadonlyArray<{ namespace: string; message: RegExp; level: Level }> = [
  // The request's error is thrown to the code that sent it.
  { namespace: 'Connection', message: /^Response /, level: 'debug' },
  // sendMessages retries; its last failure is thrown.
  { namespace: 'Producer', message: /^Failed to send messages/, level: 'debug' },
  // Refused or timed-out connections are retried by the broker pool, then thrown.
  { namespace: 'Connection', message: /^Connection (error|timeout)/, level: 'warn' },
  { namespace: 'BrokerPool', message: /./, level: 'warn' },
  { namespace: 'Runner', message: /^The coordinator is not aware of this member/, level: 'warn' },
];

function levelOf(namespace: string, level: logLevel, message: string): Level {
  if (level === logLevel.ERROR) return ATTEMPTS.find((a) => a.namespace === namespace && a.message.test(message))?.level ?? 'error';
  if (level === logLevel.WARN) return 'warn';
  if (level === logLevel.INFO) return 'info';
  return 'debug';
}

export function toLogCreator(logger: KafkaLogger): logCreator {
  return () => ({ namespace, level, log }) => {
    // kafkajs adds its own timestamp and logger name; the supplied logger has its own.
    const { message, timestamp: _t, logger: _l, ...fields } = log;
    const msg = String(message);
    logger[levelOf(namespace, level, msg)]({ ...fields, kafkajs: namespace }, msg);
  };
}
