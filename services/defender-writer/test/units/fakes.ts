// A Kafka port whose transactional producers record what they commit and fail as told: the units'
// tests exercise commits without a broker (the integration tests have one).
import type { Kafka, TransactionalProducer } from '@octi-defender/kafka';

export interface FakeKafka {
  readonly kafka: Kafka;
  readonly opened: string[];
  readonly closed: string[];
  readonly sent: { id: string; records: number; offsets: number }[];
  /** The next transaction (of any producer) fails with this; `open`: the next producer registration fails. */
  readonly fail: { next: Error | undefined; always: Map<string, Error>; open: Error | undefined };
}

export function fakeKafka(): FakeKafka {
  const f: FakeKafka = { kafka: undefined as never, opened: [], closed: [], sent: [], fail: { next: undefined, always: new Map(), open: undefined } };
  const kafka = {
    transactionalProducer: (id: string): Promise<TransactionalProducer> => {
      const refused = f.fail.open;
      f.fail.open = undefined;
      if (refused) return Promise.reject(refused);
      f.opened.push(id);
      return Promise.resolve({
        transactionalId: id,
        transaction: async (work) => {
          let records = 0;
          let offsets = 0;
          await work(
            { send: (r: readonly unknown[]) => Promise.resolve(void (records += r.length)), sendOffsets: (_g: string, o: readonly unknown[]) => Promise.resolve(void (offsets += o.length)) } as never,
          );
          const err = f.fail.next ?? f.fail.always.get(id);
          f.fail.next = undefined;
          if (err) throw err;
          f.sent.push({ id, records, offsets });
          return undefined as never;
        },
        close: () => Promise.resolve(void f.closed.push(id)),
      } as TransactionalProducer);
    },
  } as unknown as Kafka;
  return Object.assign(f, { kafka });
}
