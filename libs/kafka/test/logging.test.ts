// What kafkajs logs while a healthy cluster settles (lines taken from a fresh broker's start) is no
// error line; kafkajs' own failures still are.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { logLevel } from 'kafkajs';
import { toLogCreator } from '../src/kafkajs/logging.ts';

function capture(): { lines: string[]; log: (namespace: string, level: logLevel, message: string) => void } {
  const lines: string[] = [];
  const at = (lvl: string) => (_obj: object, msg: string) => void lines.push(`${lvl} ${msg}`);
  const entry = toLogCreator({ debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') })(logLevel.INFO);
  return { lines, log: (namespace, level, message) => entry({ namespace, level, label: 'ERROR', log: { timestamp: '', logger: 'kafkajs', message } }) };
}

test('transient answers of a starting cluster are debug, connection trouble and re-joins warnings', () => {
  const { lines, log } = capture();
  log('Connection', logLevel.ERROR, 'Response GroupCoordinator(key: 10, version: 2)');
  log('Connection', logLevel.ERROR, 'Response AddPartitionsToTxn(key: 24, version: 1)');
  log('Producer', logLevel.ERROR, 'Failed to send messages: The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing');
  log('Connection', logLevel.ERROR, 'Connection error: connect ECONNREFUSED 127.0.0.1:9092');
  log('BrokerPool', logLevel.ERROR, 'Failed to connect to seed broker, trying another broker from the list: Connection error');
  log('Runner', logLevel.ERROR, 'The coordinator is not aware of this member, re-joining the group');
  assert.deepEqual(lines, [
    'debug Response GroupCoordinator(key: 10, version: 2)',
    'debug Response AddPartitionsToTxn(key: 24, version: 1)',
    'debug Failed to send messages: The producer attempted to update a transaction while another concurrent operation on the same transaction was ongoing',
    'warn Connection error: connect ECONNREFUSED 127.0.0.1:9092',
    'warn Failed to connect to seed broker, trying another broker from the list: Connection error',
    'warn The coordinator is not aware of this member, re-joining the group',
  ]);
});

test('kafkajs failures stay errors and other levels keep theirs', () => {
  const { lines, log } = capture();
  log('Consumer', logLevel.ERROR, 'Crash: KafkaJSNumberOfRetriesExceeded: The group coordinator is not available');
  log('Runner', logLevel.ERROR, 'Error when calling eachBatch');
  log('Consumer', logLevel.WARN, 'something');
  log('Consumer', logLevel.INFO, 'Starting');
  assert.deepEqual(lines, ['error Crash: KafkaJSNumberOfRetriesExceeded: The group coordinator is not available', 'error Error when calling eachBatch', 'warn something', 'info Starting']);
});
