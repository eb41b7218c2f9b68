// Topic administration over kafkajs.
import type { Kafka as KafkaJs } from 'kafkajs';
import type { Admin } from '../port.ts';

export async function createAdmin(kafka: KafkaJs): Promise<Admin> {
  const a = kafka.admin();
  await a.connect();
  return {
    async createTopics(topics) {
      const existing = new Set(await a.listTopics());
      const missing = topics.filter((t) => !existing.has(t.name));
      if (missing.length === 0) return [];
      try {
        await a.createTopics({
          waitForLeaders: true,
          topics: missing.map((t) => ({
            topic: t.name,
            numPartitions: t.partitions,
            replicationFactor: t.replicationFactor ?? -1,
            configEntries: Object.entries(t.config).map(([name, value]) => ({ name, value })),
          })),
        });
      } catch (err) {
        // Another process (a second replica) may have created some of them meanwhile: fine.
        const now = new Set(await a.listTopics());
        if (!missing.every((t) => now.has(t.name))) throw err;
      }
      return missing.map((t) => t.name);
    },
    async describeTopics(names) {
      if (names.length === 0) return [];
      const { topics } = await a.fetchTopicMetadata({ topics: [...names] });
      return topics.map((t) => ({ name: t.name, partitions: t.partitions.length }));
    },
    listTopics: () => a.listTopics(),
    async deleteTopics(names) {
      if (names.length > 0) await a.deleteTopics({ topics: [...names] });
    },
    close: () => a.disconnect(),
  };
}
