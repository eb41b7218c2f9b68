// Apache Kafka version of the test broker, local (Maven Central jars) and container (apache/kafka
// image) alike: the one place it is pinned. See libs/kafka/README.md for why this version.
export const KAFKA_VERSION = '4.4.0';

/**
 * Broker settings both test brokers share: a single KRaft node (broker + controller) where every
 * internal topic fits one replica, and groups start without the initial rebalance delay.
 */
export function singleNodeSettings(opts: {
  brokerListener: string;
  controllerListener: string;
  advertisedBroker: string;
  controllerVoter: string;
}): Record<string, string> {
  return {
    'node.id': '1',
    'process.roles': 'broker,controller',
    listeners: `PLAINTEXT://${opts.brokerListener},CONTROLLER://${opts.controllerListener}`,
    'advertised.listeners': `PLAINTEXT://${opts.advertisedBroker}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'controller.quorum.voters': `1@${opts.controllerVoter}`,
    'num.partitions': '1',
    'default.replication.factor': '1',
    'min.insync.replicas': '1',
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
    // Topics come from libs/kafka/src/topics.ts through the admin port, as in production.
    'auto.create.topics.enable': 'false',
    'num.network.threads': '2',
    'num.io.threads': '2',
    'log.retention.check.interval.ms': '60000',
  };
}

/** `KAFKA_NODE_ID`-style environment for the apache/kafka image. */
export function toContainerEnv(settings: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(settings).map(([k, v]) => [`KAFKA_${k.toUpperCase().replaceAll('.', '_')}`, v]));
}
