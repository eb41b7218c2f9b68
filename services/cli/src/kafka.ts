// Kafka for a command: the services' connection settings (TLS always verified, SASL), fewer retries
// than a service so an unreachable broker is reported within seconds, and the operator's message
// for an unreachable broker.
import { connectKafka, unreachableKafka, type Kafka } from '@octi-defender/kafka';
import type { KafkaConfig } from './settings.ts';

export const CLI_CLIENT_ID = 'octi-defender-cli';

export function openKafka(c: KafkaConfig): Kafka {
  return connectKafka(c, CLI_CLIENT_ID, undefined, { retries: 2, connectionTimeoutMs: 3000, requestTimeoutMs: 15_000 });
}

/** The operator's sentence for a Kafka failure: unreachable brokers name KAFKA_BROKERS, others their error. */
export function kafkaFailure(err: unknown, c: KafkaConfig): { readonly unreachable: boolean; readonly message: string } {
  const unreachable = unreachableKafka(err, c);
  if (unreachable !== undefined) return { unreachable: true, message: unreachable };
  const message = err instanceof Error ? err.message : String(err);
  const auth = /SASL|authenticat|authoriz/i.test(message);
  return {
    unreachable: false,
    message: auth ? `Kafka refused the client (${message}): check KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and the user's ACLs` : `Kafka failed: ${message}`,
  };
}
