// @octi-defender/kafka: the Kafka port, its kafkajs adapter and the project's topic definitions.
export * from './port.ts';
export * from './topics.ts';
export { createKafka } from './kafkajs/index.ts';
export { partitionForKey } from './partitioner.ts';
export { connectKafka, kafkaStatusSink, unreachableKafka } from './connect.ts';
export * from './control.ts';
export { ControlChannel, type ReplyFields } from './control-channel.ts';
export * from './dead-letter.ts';
