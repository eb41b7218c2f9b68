// The listener's role among the replicas of one LISTENER_GROUP_ID, as one state with the moves it
// may make (drawn in the README, section "Roles"; a test keeps the drawing equal to this table).
import type { TransitionTable } from '@octi-defender/platform';

export type ListenerRole =
  /** Joining the lease group: Kafka not connected yet. */
  | 'starting'
  /** In the group without a term: waiting for the lease (or between terms while holding it). */
  | 'standby'
  /** Holding the lease and opening a term (fencing producer, checkpoints), retrying while it holds it. */
  | 'activating'
  /** A term runs: readers connected or reconnecting, the publisher committing. */
  | 'active'
  /** The term stops (lease revoked, fenced, publish failure, operator request): readers closed, last transaction committing. */
  | 'deactivating'
  /** close() called: the term (if any) stops and the replica leaves the group. */
  | 'closing'
  | 'closed';

export const LISTENER_ROLES: TransitionTable<ListenerRole> = {
  // The lease may be assigned while start() still joins.
  starting: ['standby', 'activating', 'closing'],
  standby: ['activating', 'closing'],
  // Back to standby when the lease was lost (or the listener closes) before a term could start.
  activating: ['active', 'standby'],
  active: ['deactivating', 'closing'],
  deactivating: ['standby'],
  closing: ['closed'],
  closed: [],
};
