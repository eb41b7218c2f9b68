// Prometheus metrics of the Defender client. Label values are bounded sets, never free text.
import { Counter, Gauge, Histogram, type Registry } from '@octi-defender/platform';

export const BREAKER_STATE = { closed: 0, halfOpen: 1, open: 2 } as const;

export class DefenderMetrics {
  readonly calls: Counter<'endpoint' | 'status'>;
  readonly items: Counter<'endpoint' | 'outcome' | 'reason'>;
  readonly breakerState: Gauge;
  readonly quotaWait: Histogram<'endpoint'>;
  readonly duration: Histogram<'endpoint'>;
  readonly bisections: Counter<'endpoint'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.calls = new Counter({
      name: 'defender_api_calls_total',
      help: 'HTTP calls to the Defender API by endpoint and status (HTTP code, network, aborted, dry_run)',
      labelNames: ['endpoint', 'status'],
      registers,
    });
    this.items = new Counter({
      name: 'defender_api_items_total',
      help: 'Indicators sent or ids deleted, by outcome and failure category',
      labelNames: ['endpoint', 'outcome', 'reason'],
      registers,
    });
    this.breakerState = new Gauge({
      name: 'defender_api_breaker_state',
      help: 'Circuit breaker around Defender calls: 0 closed, 1 half-open, 2 open',
      registers,
    });
    this.quotaWait = new Histogram({
      name: 'defender_api_quota_wait_seconds',
      help: 'Time a call waited for its endpoint quota (this writer’s share)',
      labelNames: ['endpoint'],
      buckets: [0, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 120],
      registers,
    });
    this.duration = new Histogram({
      name: 'defender_api_call_duration_seconds',
      help: 'Duration of one HTTP attempt to the Defender API',
      labelNames: ['endpoint'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60],
      registers,
    });
    this.bisections = new Counter({
      name: 'defender_api_bisections_total',
      help: 'Batches split in two after Defender refused the whole call for its content (400, 413, 422)',
      labelNames: ['endpoint'],
      registers,
    });
  }
}
