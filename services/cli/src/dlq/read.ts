// Reading the dead-letter topic and, for redrive, the latest commands of given keys (only the
// partitions those keys hash to are read).
import { decodeCommand } from '@octi-defender/indicators';
import { partitionForKey, type Kafka } from '@octi-defender/kafka';
import { buildView, decodeDlqRecord, type DlqRecord, type DlqView } from './letters.ts';
import type { StoredCommand } from './redrive-plan.ts';

export async function readDlq(kafka: Kafka, topic: string): Promise<DlqView> {
  const records: DlqRecord[] = [];
  await kafka.scanCompacted(topic, (key, r) => records.push(decodeDlqRecord(key, r.partition, r.offset, r.value, r.headers)));
  return buildView(records);
}

/** Per key, the latest command of each source on the commands topic, in offset order. */
export async function latestCommands(kafka: Kafka, topic: string, keys: ReadonlySet<string>): Promise<Map<string, StoredCommand[]>> {
  const out = new Map<string, StoredCommand[]>();
  if (keys.size === 0) return out;
  const admin = await kafka.admin();
  let partitions: number;
  try {
    const [d] = await admin.describeTopics([topic]);
    if (!d) throw new Error(`topic ${topic} not found`);
    partitions = d.partitions;
  } finally {
    await admin.close();
  }
  const wanted = [...new Set([...keys].map((k) => partitionForKey(k, partitions)))];
  const bySource = new Map<string, Map<string, { offset: bigint; command: StoredCommand }>>();
  await kafka.scanCompacted(
    topic,
    (key, r) => {
      if (!keys.has(key) || r.value === null || r.headers.op?.toString() === 'resync') return;
      const d = decodeCommand(r.value);
      if (!d.ok || d.value.key !== key) return;
      const sources = bySource.get(key) ?? new Map<string, { offset: bigint; command: StoredCommand }>();
      sources.set(d.value.source.id, { offset: r.offset, command: d.value });
      bySource.set(key, sources);
    },
    { partitions: wanted },
  );
  for (const [key, sources] of bySource) {
    out.set(key, [...sources.values()].sort((a, b) => Number(a.offset - b.offset)).map((x) => x.command));
  }
  return out;
}
