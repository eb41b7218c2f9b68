// A service that cannot reach Kafka says which variable to fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { unreachableKafka } from '../src/index.ts';

const { KafkaJSConnectionError, KafkaJSNumberOfRetriesExceeded } = kafkajs;

test('an unreachable broker names KAFKA_BROKERS (and KAFKA_SSL over TLS); other failures are not blamed on it', () => {
  // What kafkajs' retrier throws once its attempts to reach the seed broker are exhausted.
  const err = new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:1'), { retryCount: 5, retryTime: 7000 });
  assert.equal(
    unreachableKafka(err, { kafkaBrokers: ['127.0.0.1:1'], kafkaSsl: false }),
    'Kafka is unreachable at 127.0.0.1:1 (Connection error: connect ECONNREFUSED 127.0.0.1:1): check KAFKA_BROKERS',
  );
  assert.match(unreachableKafka(err, { kafkaBrokers: ['k:9093'], kafkaSsl: true }) ?? '', /check KAFKA_BROKERS and KAFKA_SSL$/);
  assert.equal(unreachableKafka(new Error('Topic authorization failed'), { kafkaBrokers: ['k:9092'], kafkaSsl: false }), undefined);
});
