// The end-to-end suite's broker: killed -9 and restarted on the same ports, it still holds what was
// written before the kill.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKafka } from '../src/index.ts';
import { startRestartableBroker } from '../src/testing/index.ts';

test('a restartable broker killed -9 comes back on the same address with its data', async () => {
  const broker = await startRestartableBroker();
  try {
    const topic = 'restart-check';
    const write = createKafka({ brokers: broker.brokers, clientId: 'restart-test' });
    const admin = await write.admin();
    await admin.createTopics([{ name: topic, partitions: 1, config: { 'cleanup.policy': 'compact' } }]);
    await admin.close();
    const producer = await write.producer();
    await producer.send([{ topic, key: 'k', value: 'before the crash' }]);
    await producer.close();
    await write.close();
    await broker.kill();
    await assert.rejects(
      (async () => {
        const probe = createKafka({ brokers: broker.brokers, clientId: 'restart-probe' });
        try {
          const a = await probe.admin();
          await a.listTopics();
        } finally {
          await probe.close();
        }
      })(),
    );
    await broker.restart();
    const read = createKafka({ brokers: broker.brokers, clientId: 'restart-test' });
    try {
      const values = await read.readCompacted(topic);
      assert.equal(values.get('k')?.value.toString(), 'before the crash');
    } finally {
      await read.close();
    }
  } finally {
    await broker.stop();
  }
});

test('a transactional producer whose commit failed because the broker died works again once the broker is back', { timeout: 240_000 }, async () => {
  // kafkajs leaves its transaction state machine in COMMITTING when EndTxn fails; reusing that producer
  // fails every later transaction ("Cannot call beginTransaction in state COMMITTING") for good.
  const broker = await startRestartableBroker();
  try {
    const topic = 'restart-tx';
    const kafka = createKafka({ brokers: broker.brokers, clientId: 'restart-tx' });
    const admin = await kafka.admin();
    await admin.createTopics([{ name: topic, partitions: 1, config: { 'cleanup.policy': 'compact' } }]);
    await admin.close();
    const producer = await kafka.transactionalProducer('restart-tx-producer');
    await producer.transaction((tx) => tx.send([{ topic, key: 'k', value: 'first' }]));
    await assert.rejects(
      producer.transaction(async (tx) => {
        await tx.send([{ topic, key: 'k', value: 'in doubt' }]);
        await broker.kill();
      }),
    );
    await broker.restart();
    await producer.transaction((tx) => tx.send([{ topic, key: 'k', value: 'after the restart' }]));
    const values = await kafka.readCompacted(topic);
    assert.equal(values.get('k')?.value.toString(), 'after the restart');
    await producer.close();
    await kafka.close();
  } finally {
    await broker.stop();
  }
});
