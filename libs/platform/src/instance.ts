// This process's identity among its service's replicas, in logs, Kafka client ids, control answers
// and status snapshots.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/** Host name, pid and a random suffix: unique even among processes sharing a host name (pods of one node, pid 1 in each). */
export function instanceIdentity(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}
