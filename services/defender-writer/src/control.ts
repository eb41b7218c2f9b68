// Operator requests on the control topic for the writer (octi-defender reconcile): every writer of
// the named tenant (or of every tenant) reconciles its own partitions now (Writer#reconcile, the
// periodic reconciliation run at once) and answers accepted, then done with the partitions it
// covered and the drift it repaired, so the command line knows when the whole tenant is done.
// Every writer sees every request (ControlChannel: a group per process); a request id is acted on
// once per writer process.
import { ControlChannel, type ControlRequest, type Kafka, type ReplyFields } from '@octi-defender/kafka';
import type { Logger } from '@octi-defender/platform';
import type { WriterConfig } from './config.ts';
import type { Drift } from './core/drift.ts';

/** What the control handler needs of the writer. */
interface Reconcilable {
  reconcile(): Promise<Drift | undefined>;
  ownedPartitions(): ReadonlySet<number>;
}

/** Request ids remembered to act once (older ones have expired long before). */
const REMEMBERED = 1000;

export class WriterControl {
  readonly #tenant: string;
  readonly #writer: Reconcilable;
  readonly #log: Logger;
  readonly #channel: ControlChannel;
  readonly #handled = new Set<string>();
  readonly #work = new Set<Promise<void>>();

  constructor(cfg: Pick<WriterConfig, 'controlTopic' | 'consumerGroup' | 'tenantName'>, deps: { kafka: Kafka; writer: Reconcilable; logger: Logger; instance: string }) {
    this.#tenant = cfg.tenantName;
    this.#writer = deps.writer;
    this.#log = deps.logger;
    this.#channel = new ControlChannel(deps.kafka, {
      topic: cfg.controlTopic,
      groupId: `${cfg.consumerGroup}.control.${deps.instance}`,
      service: 'defender-writer',
      instance: deps.instance,
      onRequest: (request) => this.#consider(request),
    });
  }

  start(): Promise<void> {
    return this.#channel.start();
  }

  async close(): Promise<void> {
    await this.#channel.stopReading();
    await Promise.allSettled([...this.#work]);
    await this.#channel.close();
  }

  #consider(request: ControlRequest): void {
    if (request.action !== 'reconcile' || (request.tenant !== undefined && request.tenant !== this.#tenant) || this.#handled.has(request.requestId)) return;
    this.#handled.add(request.requestId);
    if (this.#handled.size > REMEMBERED) this.#handled.delete(this.#handled.values().next().value as string);
    const work = this.#reconcile(request).catch(async (err: unknown) => {
      this.#log.error({ err, requestId: request.requestId }, 'operator reconciliation failed');
      await this.#reply(request, { status: 'failed', detail: `reconciliation failed: ${err instanceof Error ? err.message : String(err)}`, data: { partitions: this.#partitions() } }).catch(() =>
        undefined
      );
    });
    this.#work.add(work);
    void work.finally(() => this.#work.delete(work));
  }

  async #reconcile(request: ControlRequest): Promise<void> {
    this.#log.info({ requestId: request.requestId }, 'operator request: reconcile now');
    await this.#reply(request, { status: 'accepted', detail: `reconciling partitions ${list(this.#partitions())}`, data: { partitions: this.#partitions() } });
    const drift = await this.#writer.reconcile();
    const partitions = this.#partitions();
    if (!drift) {
      const detail = partitions.length === 0 ? 'no partition owned: nothing to reconcile' : `partitions ${list(partitions)} catching up with a backlog: reconciled when the catch-up ends`;
      await this.#reply(request, { status: 'done', detail, data: { partitions, deferred: partitions.length > 0 } });
      return;
    }
    const counts = { listed: drift.listed, foreign: drift.foreign, missing: drift.missing.length, orphaned: drift.orphaned.length, adopted: drift.adopted.length };
    const detail = `reconciled partitions ${
      list(partitions)
    }: ${counts.listed} listed in Defender, ${counts.missing} missing re-imported, ${counts.orphaned} orphaned deleted, ${counts.adopted} another creator's released`;
    await this.#reply(request, { status: 'done', detail, data: { partitions, ...counts } });
  }

  #partitions(): number[] {
    return [...this.#writer.ownedPartitions()].sort((a, b) => a - b);
  }

  #reply(request: ControlRequest, fields: ReplyFields): Promise<void> {
    return this.#channel.reply(request, { ...fields, tenant: this.#tenant });
  }
}

function list(partitions: readonly number[]): string {
  return partitions.length === 0 ? '(none)' : partitions.join(',');
}
