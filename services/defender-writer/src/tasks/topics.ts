// The writer's topics: created when missing (as the deployment defines them), and checked: partition p
// of the state topic is the changelog of commands partition p, so both have the same partition count.
import { topicDefinitions, type Kafka } from '@octi-defender/kafka';
import type { Logger } from '@octi-defender/platform';
import type { WriterConfig } from '../config.ts';

/** Returns the commands topic's partition count. */
export async function ensureWriterTopics(kafka: Kafka, cfg: Pick<WriterConfig, 'commandsTopic' | 'dlqTopic' | 'controlTopic' | 'stateTopic'>, logger: Logger): Promise<number> {
  const admin = await kafka.admin();
  try {
    let commandsPartitions: number | undefined;
    try {
      commandsPartitions = (await admin.describeTopics([cfg.commandsTopic]))[0]?.partitions;
    } catch {
      commandsPartitions = undefined;
    }
    // stateTopicTemplate '{tenant}' with the state topic as "tenant" names the configured topic.
    const wanted = topicDefinitions(
      { commandsTopic: cfg.commandsTopic, dlqTopic: cfg.dlqTopic, controlTopic: cfg.controlTopic, stateTopicTemplate: '{tenant}', ...(commandsPartitions ? { commandsPartitions } : {}) },
      [cfg.stateTopic],
    ).filter((t) => t.role !== 'checkpoints');
    const created = await admin.createTopics(wanted);
    if (created.length > 0) logger.info({ created }, 'created missing topics');
    const [commands, state] = await admin.describeTopics([cfg.commandsTopic, cfg.stateTopic]);
    if (!commands || !state) throw new Error('could not describe the commands and state topics');
    if (commands.partitions !== state.partitions) {
      throw new Error(
        `state topic ${state.name} has ${state.partitions} partitions but commands topic ${commands.name} has ${commands.partitions}: ` +
          'partition p of the state topic must be the changelog of commands partition p; recreate the state topic with the same count',
      );
    }
    return commands.partitions;
  } finally {
    await admin.close();
  }
}
