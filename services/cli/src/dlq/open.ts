// The Kafka settings every dlq command needs, or the reason it cannot run.
import { EXIT } from '../args.ts';
import type { CommandIO } from '../command.ts';
import { kafkaFailure, openKafka } from '../kafka.ts';
import { loadSettings, type KafkaConfig } from '../settings.ts';
import type { Kafka } from '@octi-defender/kafka';

/** Runs `work` with Kafka; a configuration problem is exit 2, an unreachable broker exit 3, each said on stderr. */
export async function withKafka(command: string, io: CommandIO, work: (kafka: Kafka, c: KafkaConfig) => Promise<number>): Promise<number> {
  const s = loadSettings(io.env);
  if (!s.kafka.ok) {
    for (const p of s.kafka.problems) io.err(`${command}: ${p}`);
    return EXIT.usage;
  }
  const c = s.kafka.config;
  const kafka = openKafka(c);
  try {
    return await work(kafka, c);
  } catch (err) {
    const f = kafkaFailure(err, c);
    io.err(`${command}: ${f.message}`);
    return f.unreachable ? EXIT.unreachable : EXIT.attention;
  } finally {
    await kafka.close();
  }
}
