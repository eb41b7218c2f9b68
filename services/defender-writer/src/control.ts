// Operator requests on the control topic for the writer (octi-defender reconcile): every writer of
// the named tenant (or of every tenant) reconciles its own partitions now (Writer#reconcile, the
// periodic reconciliation run at once) and answers accepted, then done with the partitions it
// covered and the drift it repaired, so the command line knows when the whole tenant is done.
// Each writer reads the topic in a group of its own (every writer sees every request); a request
// id is acted on once per writer process.
import { CONTROL_SCHEMA_VERSION, decodeControl, encodeControl, expired, type Consumer, type ControlReply, type ControlRequest, type Kafka, type Producer } from '@octi-defender/kafka';
import type { Logger } from '@octi-defender/platform';
import type { WriterConfig } from './config.ts';
import type { Drift } from './reconciler.ts';

/** What the control handler needs of the writer. */
export interface Reconcilable {
  reconcile(): Promise<Drift | undefined>;
  ownedPartitions(): ReadonlySet<number>;
}

/** Request ids remembered to act once (older ones have expired long before). */
const REMEMBERED = 1000;

export class WriterControl {
  readonly #cfg: Pick<WriterConfig, 'controlTopic' | 'consumerGroup' | 'tenantName'>;
  readonly #kafka: Kafka;
  readonly #writer: Reconcilable;
  readonly #log: Logger;
  readonly #instance: string;
  readonly #startedAt = Date.now();
  readonly #handled = new Set<string>();
  readonly #work = new Set<Promise<void>>();
  #consumer: Consumer | undefined;
  #producer: Producer | undefined;

  constructor(cfg: Pick<WriterConfig, 'controlTopic' | 'consumerGroup' | 'tenantName'>, deps: { kafka: Kafka; writer: Reconcilable; logger: Logger; instance: string }) {
    this.#cfg = cfg;
    this.#kafka = deps.kafka;
    this.#writer = deps.writer;
    this.#log = deps.logger;
    this.#instance = deps.instance;
  }

  async start(): Promise<void> {
    this.#producer = await this.#kafka.producer();
    // A group per process, read from the start: requests made before it started are skipped by
    // date, the ones made while it was joining are not missed.
    this.#consumer = await this.#kafka.consumer({ groupId: `${this.#cfg.consumerGroup}.control.${this.#instance}`, topics: [this.#cfg.controlTopic], fromBeginning: true, maxWaitTimeMs: 200 });
    await this.#consumer.run(async (batch) => {
      for (const r of batch.records) {
        const request = decodeControl(r.value);
        if (request?.kind === 'request') this.#consider(request);
        batch.resolveOffset(r.offset);
      }
      return Promise.resolve();
    });
  }

  async close(): Promise<void> {
    await this.#consumer?.close();
    await Promise.allSettled([...this.#work]);
    await this.#producer?.close();
  }

  #consider(request: ControlRequest): void {
    if (request.action !== 'reconcile') return;
    if (request.tenant !== undefined && request.tenant !== this.#cfg.tenantName) return;
    if (expired(request, new Date()) || Date.parse(request.at) < this.#startedAt || this.#handled.has(request.requestId)) return;
    this.#handled.add(request.requestId);
    if (this.#handled.size > REMEMBERED) this.#handled.delete(this.#handled.values().next().value as string);
    const work = this.#reconcile(request).catch(async (err: unknown) => {
      this.#log.error({ err, requestId: request.requestId }, 'operator reconciliation failed');
      await this.#reply(request, 'failed', `reconciliation failed: ${err instanceof Error ? err.message : String(err)}`, { partitions: [...this.#writer.ownedPartitions()] }).catch(() => undefined);
    });
    this.#work.add(work);
    void work.finally(() => this.#work.delete(work));
  }

  async #reconcile(request: ControlRequest): Promise<void> {
    this.#log.info({ requestId: request.requestId }, 'operator request: reconcile now');
    await this.#reply(request, 'accepted', `reconciling partitions ${list(this.#writer.ownedPartitions())}`, { partitions: [...this.#writer.ownedPartitions()].sort((a, b) => a - b) });
    const drift = await this.#writer.reconcile();
    const partitions = [...this.#writer.ownedPartitions()].sort((a, b) => a - b);
    if (!drift) {
      await this.#reply(request, 'done', partitions.length === 0 ? 'no partition owned: nothing to reconcile' : `partitions ${list(partitions)} catching up with a backlog: reconciled when the catch-up ends`, { partitions, deferred: partitions.length > 0 });
      return;
    }
    const counts = { listed: drift.listed, foreign: drift.foreign, missing: drift.missing.length, orphaned: drift.orphaned.length, adopted: drift.adopted.length };
    await this.#reply(
      request,
      'done',
      `reconciled partitions ${list(partitions)}: ${counts.listed} listed in Defender, ${counts.missing} missing re-imported, ${counts.orphaned} orphaned deleted, ${counts.adopted} another creator's released`,
      { partitions, ...counts },
    );
  }

  async #reply(request: ControlRequest, status: ControlReply['status'], detail: string, data: Record<string, unknown>): Promise<void> {
    const reply: ControlReply = {
      schemaVersion: CONTROL_SCHEMA_VERSION,
      kind: 'reply',
      requestId: request.requestId,
      action: request.action,
      status,
      service: 'defender-writer',
      instance: this.#instance,
      tenant: this.#cfg.tenantName,
      detail,
      data,
      at: new Date().toISOString(),
    };
    await this.#producer?.send([{ topic: this.#cfg.controlTopic, key: request.requestId, value: encodeControl(reply) }]);
  }
}

function list(partitions: Iterable<number>): string {
  const all = [...partitions].sort((a, b) => a - b);
  return all.length === 0 ? '(none)' : all.join(',');
}
