// Kafka checks: the brokers answer (with TLS and SASL as configured), and each topic the configured
// services use exists, with a state topic as wide as the commands topic. Kafka answers metadata
// only for topics the user may describe, so a topic hidden by an ACL shows as missing.
import { defaultTopicSettings, type Kafka, type TopicDescription } from '@octi-defender/kafka';
import type { CheckResult } from '../findings.ts';
import { kafkaFailure } from '../kafka.ts';
import type { KafkaConfig } from '../settings.ts';

export interface NeededTopic {
  readonly name: string;
  /** Which variable names it, for the fix. */
  readonly variable: string;
  readonly role: 'commands' | 'checkpoints' | 'dlq' | 'state' | 'status';
}

function topicFindings(needed: readonly NeededTopic[], existing: ReadonlyMap<string, TopicDescription>): CheckResult[] {
  const results: CheckResult[] = [];
  for (const t of needed) {
    const d = existing.get(t.name);
    results.push(
      d
        ? { name: `topic ${t.name} (${t.role})`, ok: true, detail: `${d.partitions} partition${d.partitions === 1 ? '' : 's'}` }
        : {
          name: `topic ${t.name} (${t.role})`,
          ok: false,
          detail: 'missing, or not visible to this Kafka user',
          fix: `create it (deploy/k8s kafka-topics Job, or \`node scripts/topics.ts --print <tenant>\`), check ${t.variable}, and allow the user to describe, read and write it`,
        },
    );
  }
  const commands = needed.find((t) => t.role === 'commands');
  const commandsWidth = commands ? existing.get(commands.name)?.partitions : undefined;
  for (const s of needed.filter((t) => t.role === 'state')) {
    const width = existing.get(s.name)?.partitions;
    if (commandsWidth !== undefined && width !== undefined && width !== commandsWidth) {
      results.push({
        name: `state topic ${s.name} as wide as ${commands?.name}`,
        ok: false,
        detail: `${width} partitions, the commands topic has ${commandsWidth}`,
        fix: 'partition p of the state topic is the changelog of commands partition p: recreate the state topic with the same count',
      });
    }
  }
  return results;
}

export async function checkKafka(c: KafkaConfig, kafka: Kafka, needed: readonly NeededTopic[]): Promise<{ results: CheckResult[]; unreachable: boolean }> {
  const name = `Kafka reachable at ${c.kafkaBrokers.join(',')}`;
  let admin;
  try {
    admin = await kafka.admin();
    const names = new Set(await admin.listTopics());
    const present = needed.filter((t) => names.has(t.name)).map((t) => t.name);
    const described = await admin.describeTopics([...new Set(present)]);
    return { results: [{ name, ok: true }, ...topicFindings(needed, new Map(described.map((d) => [d.name, d])))], unreachable: false };
  } catch (err) {
    const f = kafkaFailure(err, c);
    return {
      results: [{ name, ok: false, detail: f.message, fix: f.unreachable ? 'check KAFKA_BROKERS, KAFKA_SSL and that this machine may reach the brokers' : 'see the error' }],
      unreachable: f.unreachable,
    };
  } finally {
    await admin?.close().catch(() => undefined);
  }
}

export const STATUS_TOPIC: NeededTopic = { name: defaultTopicSettings.statusTopic, variable: '(fixed name)', role: 'status' };
