// `octi-defender reconcile [--tenant <name>]`: every writer of the tenant (or of every tenant)
// compares Defender with its partitions' state now and repairs the drift; done once the tenant's
// writers together covered every partition of the commands topic.
import { requestCommand } from '../control-client.ts';
import { reconcileVerdict } from '../control-progress.ts';

/** Writers of a tenant read a request together; answers from a late one are awaited this long. */
const SETTLE_MS = 2000;

export const reconcile = requestCommand({
  name: 'reconcile',
  summary: 'reconcile Defender with the writers’ state now (one tenant or all)',
  usage: [
    'usage: octi-defender reconcile [--tenant <WRITER_TENANT_NAME>] [--timeout 10m] [--answer-timeout 15s]',
    'Has the writers of a tenant (every tenant when omitted) reconcile Defender with their state now.',
    'Waits until every partition of each answering tenant is reconciled.',
    'Exit: 0 done, 1 refused, failed, partitions left or not done in time, 2 usage, 3 Kafka unreachable or no writer answered.',
  ],
  options: { tenant: { type: 'string' } },
  build: ({ tenant }) => {
    const one = typeof tenant === 'string' && tenant !== '' ? tenant : undefined;
    let partitionCount = 0;
    return {
      request: { action: 'reconcile', ...(one !== undefined ? { tenant: one } : {}) },
      target: one !== undefined ? `the defender-writers of tenant ${one}` : 'any defender-writer',
      prepare: async (kafka, settings) => {
        const admin = await kafka.admin();
        try {
          partitionCount = (await admin.describeTopics([settings.commandsTopic]))[0]?.partitions ?? 0;
        } finally {
          await admin.close();
        }
      },
      verdict: (replies, now) => reconcileVerdict(replies, { partitionCount, now, settleMs: SETTLE_MS }),
    };
  },
});
