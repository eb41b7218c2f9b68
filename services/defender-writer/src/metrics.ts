// The writer's own Prometheus series (the Defender client has its own `defender_api_*`). Labels are
// bounded: partitions, command ops, dead-letter reasons, drift kinds — never indicator values.
import { Counter, Gauge, type Registry } from '@octi-defender/platform';

export interface WriterMetrics {
  readonly commands: Counter<'op'>;
  readonly batches: Counter<'outcome'>;
  readonly deadLetters: Counter<'reason'>;
  readonly lag: Gauge<'partition'>;
  readonly owned: Gauge;
  readonly capCapacity: Gauge;
  readonly assigned: Gauge;
  readonly paused: Gauge;
  readonly drift: Gauge<'kind'>;
  readonly repairPending: Gauge;
  readonly reconciles: Counter<'outcome'>;
  readonly repairs: Counter<'kind'>;
  readonly foreignIndicators: Gauge;
  readonly foreignHeld: Gauge;
  readonly foreignHolds: Counter;
}

export function createWriterMetrics(registry: Registry): WriterMetrics {
  const registers = [registry];
  return {
    commands: new Counter({ name: 'octi_writer_commands_total', help: 'Commands applied, by op (replayed offsets already applied are not counted)', labelNames: ['op'], registers }),
    batches: new Counter({ name: 'octi_writer_batches_total', help: 'Batches processed, by outcome (applied; retry: a transient failure, nothing committed; lost: the lease ended or the partition was fenced, nothing committed)', labelNames: ['outcome'], registers }),
    deadLetters: new Counter({ name: 'octi_writer_dead_letters_total', help: 'Records written to the dead-letter topic, by reason', labelNames: ['reason'], registers }),
    lag: new Gauge({ name: 'octi_writer_consumer_lag', help: 'Commands not yet committed by the group, per partition of the commands topic', labelNames: ['partition'], registers }),
    owned: new Gauge({ name: 'octi_writer_owned_indicators', help: 'Indicators this writer holds in Defender (its partitions)', registers }),
    capCapacity: new Gauge({ name: 'octi_writer_cap_capacity', help: 'Indicators this writer may hold: floor(MAX_INDICATORS × share)', registers }),
    assigned: new Gauge({ name: 'octi_writer_assigned_partitions', help: 'Partitions of the commands topic assigned to this writer', registers }),
    paused: new Gauge({ name: 'octi_writer_paused', help: '1 while consumption is paused after a transient Defender failure or an open breaker', registers }),
    drift: new Gauge({ name: 'octi_writer_reconcile_drift', help: 'Drift found by the last reconciliation, by kind (missing: state says present, Defender lacks it; orphaned: ours in Defender, no state claims it)', labelNames: ['kind'], registers }),
    repairPending: new Gauge({ name: 'octi_writer_repair_pending', help: '1 from an assignment (or restart) until the reconciliation that repairs what a previous owner sent without committing has completed', registers }),
    reconciles: new Counter({ name: 'octi_writer_reconciles_total', help: 'Reconciliations, by outcome', labelNames: ['outcome'], registers }),
    repairs: new Counter({ name: 'octi_writer_reconcile_repairs_total', help: 'Indicators repaired by the reconciler, by kind (missing: re-imported; orphaned: deleted; adopted: an id that is another creator’s, no longer owned, never deleted)', labelNames: ['kind'], registers }),
    foreignIndicators: new Gauge({ name: 'octi_writer_foreign_indicators', help: 'Values + types other creators hold in Defender, as last listed', registers }),
    foreignHeld: new Gauge({ name: 'octi_writer_foreign_held_keys', help: 'Keys of this writer held back (not imported: foreign-indicator) because another creator holds their value + type', registers }),
    foreignHolds: new Counter({ name: 'octi_writer_foreign_holds_total', help: 'Times a key was held back because another creator holds its value + type (counted when it starts being held)', registers }),
  };
}

/**
 * The series the status publisher sends to the status topic for `octi-defender status`. Names the
 * writer does not register (yet) are skipped: `octi_writer_cap_waiting` (keys waiting over the cap)
 * is read when a writer exports it.
 */
export const WRITER_STATUS_METRICS = [
  'octi_writer_paused',
  'octi_writer_assigned_partitions',
  'octi_writer_owned_indicators',
  'octi_writer_cap_capacity',
  'octi_writer_cap_waiting',
  'octi_writer_foreign_held_keys',
  'octi_writer_consumer_lag',
  'octi_writer_reconcile_drift',
  'octi_writer_reconciles_total',
  'octi_writer_repair_pending',
  'octi_writer_dead_letters_total',
  'defender_api_breaker_state',
] as const;
