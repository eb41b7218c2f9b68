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
  readonly capWaiting: Gauge;
  readonly capRefusals: Counter;
  readonly tenantLimit: Gauge;
  readonly assigned: Gauge;
  readonly paused: Gauge;
  readonly drift: Gauge<'kind'>;
  readonly repairPending: Gauge;
  readonly reconciles: Counter<'outcome'>;
  readonly repairs: Counter<'kind'>;
  readonly foreignIndicators: Gauge;
  readonly foreignHeld: Gauge;
  readonly foreignHolds: Counter;
  readonly foreignChecks: Counter<'outcome'>;
}

export function createWriterMetrics(registry: Registry): WriterMetrics {
  const registers = [registry];
  return {
    commands: new Counter({ name: 'octi_writer_commands_total', help: 'Commands applied, by op (replayed offsets already applied are not counted)', labelNames: ['op'], registers }),
    batches: new Counter({
      name: 'octi_writer_batches_total',
      help: 'Batches processed, by outcome (applied; retry: a transient failure, nothing committed; lost: the lease ended or the partition was fenced, nothing committed)',
      labelNames: ['outcome'],
      registers,
    }),
    deadLetters: new Counter({ name: 'octi_writer_dead_letters_total', help: 'Records written to the dead-letter topic, by reason', labelNames: ['reason'], registers }),
    lag: new Gauge({ name: 'octi_writer_consumer_lag', help: 'Commands not yet committed by the group, per partition of the commands topic', labelNames: ['partition'], registers }),
    owned: new Gauge({ name: 'octi_writer_owned_indicators', help: 'Indicators this writer holds in Defender (its partitions)', registers }),
    capCapacity: new Gauge({
      name: 'octi_writer_cap_capacity',
      help: 'Indicators this writer may hold (its room): floor(min(MAX_INDICATORS, tenant limit − indicators of other creators) × share)',
      registers,
    }),
    capWaiting: new Gauge({
      name: 'octi_writer_cap_waiting_keys',
      help: 'Keys of this writer that want to be in Defender and wait for room (over-cap), as of the last listing or lag measurement',
      registers,
    }),
    capRefusals: new Counter({
      name: 'octi_writer_cap_refusals_total',
      help: 'Import items Defender refused at the tenant’s limit of active indicators (the writer re-lists and re-plans with the room left)',
      registers,
    }),
    tenantLimit: new Gauge({
      name: 'octi_writer_tenant_limit',
      help: 'Defender’s limit of active indicators per tenant in force: DEFENDER_TENANT_INDICATOR_LIMIT, or lower when Defender’s refusals taught it',
      registers,
    }),
    assigned: new Gauge({ name: 'octi_writer_assigned_partitions', help: 'Partitions of the commands topic assigned to this writer', registers }),
    paused: new Gauge({ name: 'octi_writer_paused', help: '1 while consumption is paused after a transient Defender failure or an open breaker', registers }),
    drift: new Gauge({
      name: 'octi_writer_reconcile_drift',
      help: 'Drift found by the last reconciliation, by kind (missing: state says present, Defender lacks it; orphaned: ours in Defender, no state claims it)',
      labelNames: ['kind'],
      registers,
    }),
    repairPending: new Gauge({
      name: 'octi_writer_repair_pending',
      help: '1 from an assignment (or restart) until the reconciliation that repairs what a previous owner sent without committing has completed',
      registers,
    }),
    reconciles: new Counter({ name: 'octi_writer_reconciles_total', help: 'Reconciliations, by outcome', labelNames: ['outcome'], registers }),
    repairs: new Counter({
      name: 'octi_writer_reconcile_repairs_total',
      help: 'Indicators repaired by the reconciler, by kind (missing: re-imported; orphaned: deleted; adopted: an id that is another creator’s, no longer owned, never deleted)',
      labelNames: ['kind'],
      registers,
    }),
    foreignIndicators: new Gauge({ name: 'octi_writer_foreign_indicators', help: 'Indicators other creators hold in Defender (their part of the tenant’s limit), as last listed', registers }),
    foreignHeld: new Gauge({
      name: 'octi_writer_foreign_held_keys',
      help: 'Keys of this writer held back (not imported: foreign-indicator) because another creator holds their value + type',
      registers,
    }),
    foreignChecks: new Counter({
      name: 'octi_writer_foreign_checks_total',
      help:
        'Listings of what other creators added since the last look, made before an import (outcome: clear; found: some were new; deferred: the list quota would have held the import back, so the look waits for the next import)',
      labelNames: ['outcome'],
      registers,
    }),
    foreignHolds: new Counter({
      name: 'octi_writer_foreign_holds_total',
      help: 'Times a key was held back because another creator holds its value + type (counted when it starts being held)',
      registers,
    }),
  };
}

/** The series the status publisher sends to the status topic for `octi-defender status`. */
export const WRITER_STATUS_METRICS = [
  'octi_writer_paused',
  'octi_writer_assigned_partitions',
  'octi_writer_owned_indicators',
  'octi_writer_cap_capacity',
  'octi_writer_cap_waiting_keys',
  'octi_writer_tenant_limit',
  'octi_writer_foreign_held_keys',
  'octi_writer_consumer_lag',
  'octi_writer_reconcile_drift',
  'octi_writer_reconciles_total',
  'octi_writer_repair_pending',
  'octi_writer_dead_letters_total',
  'defender_api_breaker_state',
] as const;
