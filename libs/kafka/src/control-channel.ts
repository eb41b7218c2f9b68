// A service's end of the control topic: reads every request in a consumer group of its own (every
// replica sees every request), from the start of the topic, skipping requests made before it
// started or read after they expired, and publishes its answers. What to do with a request is the
// service's (`onRequest`); nothing is committed, so a restart only sees newer requests.
import { CONTROL_SCHEMA_VERSION, decodeControl, encodeControl, expired, type ControlReply, type ControlRequest, type ControlService } from './control.ts';
import type { Consumer, Kafka, Producer } from './port.ts';

interface ControlChannelOptions {
  readonly topic: string;
  /** The group of this replica alone, e.g. `<service group>.control.<instance>`. */
  readonly groupId: string;
  readonly service: ControlService;
  readonly instance: string;
  /** Called for each live request (not expired, made after start); must not throw. */
  readonly onRequest: (request: ControlRequest) => void;
}

export type ReplyFields = Pick<ControlReply, 'status' | 'detail'> & Partial<Pick<ControlReply, 'stream' | 'tenant' | 'data'>>;

export class ControlChannel {
  readonly #kafka: Kafka;
  readonly #o: ControlChannelOptions;
  readonly #startedAt = Date.now();
  #consumer: Consumer | undefined;
  #producer: Producer | undefined;

  constructor(kafka: Kafka, options: ControlChannelOptions) {
    this.#kafka = kafka;
    this.#o = options;
  }

  async start(): Promise<void> {
    this.#producer = await this.#kafka.producer();
    // From the start of the (small) topic: a request made while this replica was joining is not missed.
    this.#consumer = await this.#kafka.consumer({ groupId: this.#o.groupId, topics: [this.#o.topic], fromBeginning: true, maxWaitTimeMs: 200 });
    await this.#consumer.run(async (batch) => {
      for (const r of batch.records) {
        const request = decodeControl(r.value);
        if (request?.kind === 'request' && !expired(request, new Date()) && Date.parse(request.at) >= this.#startedAt) this.#o.onRequest(request);
        batch.resolveOffset(r.offset);
      }
      return Promise.resolve();
    });
  }

  /** Stops reading (the caller finishes its work, then closes for good with `close`). */
  async stopReading(): Promise<void> {
    const consumer = this.#consumer;
    this.#consumer = undefined;
    await consumer?.close();
  }

  async close(): Promise<void> {
    await this.stopReading();
    await this.#producer?.close();
    this.#producer = undefined;
  }

  async reply(request: ControlRequest, fields: ReplyFields): Promise<void> {
    const reply: ControlReply = {
      schemaVersion: CONTROL_SCHEMA_VERSION,
      kind: 'reply',
      requestId: request.requestId,
      action: request.action,
      service: this.#o.service,
      instance: this.#o.instance,
      ...fields,
      at: new Date().toISOString(),
    };
    await this.#producer?.send([{ topic: this.#o.topic, key: request.requestId, value: encodeControl(reply) }]);
  }
}
