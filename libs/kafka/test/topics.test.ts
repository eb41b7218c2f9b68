import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultTopicSettings, sightingsTopicDefinition, sightingsTopicName, stateTopicName, topicDefinitions } from '../src/topics.ts';

test('default topic definitions', () => {
  const topics = topicDefinitions({}, ['contoso']);
  assert.deepEqual(
    topics.map((t) => [t.role, t.name, t.partitions, t.config['cleanup.policy']]),
    [
      ['commands', 'opencti.indicators', 12, 'delete'],
      ['checkpoints', 'stream-listener.checkpoints', 1, 'compact'],
      ['dlq', 'opencti.indicators.dlq', 3, 'delete'],
      ['control', 'octi-defender.control', 1, 'delete'],
      ['status', 'octi-defender.status', 1, 'compact'],
      ['state', 'defender-writer.contoso.state', 12, 'compact'],
    ],
  );
  const byRole = Object.fromEntries(topics.map((t) => [t.role, t]));
  assert.equal(byRole.commands?.config['retention.ms'], String(7 * 24 * 3600 * 1000));
  assert.equal(byRole.dlq?.config['retention.ms'], String(30 * 24 * 3600 * 1000));
  assert.ok(byRole.state?.config['min.compaction.lag.ms']);
  assert.ok(topics.every((t) => t.replicationFactor === undefined));
  // Plain data: survives JSON (docs and manifests are generated from it).
  assert.deepEqual(JSON.parse(JSON.stringify(topics)), topics);
});

test('state topics follow the commands partition count and configured names', () => {
  const topics = topicDefinitions({ commandsTopic: 'cmds', commandsPartitions: 6, stateTopicTemplate: 'w.{tenant}.s', replicationFactor: 3 }, ['a', 'b']);
  assert.deepEqual(
    topics.filter((t) => t.role === 'state').map((t) => [t.name, t.partitions]),
    [
      ['w.a.s', 6],
      ['w.b.s', 6],
    ],
  );
  assert.ok(topics.every((t) => t.replicationFactor === 3));
  assert.equal(topics.find((t) => t.role === 'commands')?.name, 'cmds');
});

test('invalid names and counts are refused', () => {
  assert.throws(() => stateTopicName('bad tenant'), /invalid Kafka topic name/);
  assert.throws(() => stateTopicName('x', { stateTopicTemplate: 'no-placeholder' }), /lacks \{tenant\}/);
  assert.throws(() => topicDefinitions({ commandsPartitions: 0 }), /positive integer/);
  assert.throws(() => topicDefinitions({ dlqTopic: defaultTopicSettings.commandsTopic }), /distinct/);
  assert.throws(() => topicDefinitions({ commandsTopic: 'x'.repeat(250) }), /invalid Kafka topic name/);
});

test('the sightings topic of a tenant: one compacted partition, named from the tenant', () => {
  const t = sightingsTopicDefinition('contoso');
  assert.deepEqual([t.role, t.name, t.partitions, t.config['cleanup.policy']], ['sightings', 'sighting-reporter.contoso.sightings', 1, 'compact']);
  assert.equal(sightingsTopicDefinition('contoso', { name: 'custom.s', replicationFactor: 3 }).name, 'custom.s');
  assert.equal(sightingsTopicDefinition('contoso', { replicationFactor: 3 }).replicationFactor, 3);
  assert.throws(() => sightingsTopicName('bad tenant'), /invalid Kafka topic name/);
  assert.throws(() => sightingsTopicName('x', 'no-placeholder'), /lacks \{tenant\}/);
  assert.ok(topicDefinitions({}, ['contoso']).every((d) => d.role !== 'sightings'), 'not among the topics every deployment creates');
});
