// The listener's Prometheus series. Labels are bounded: stream ids, event names, command ops,
// Defender types and reject reasons — never indicator values.
import { Counter, Gauge, Histogram, type Registry } from '@octi-defender/platform';

export interface ListenerMetrics {
  readonly events: Counter<'stream' | 'event'>;
  readonly commands: Counter<'op' | 'type'>;
  readonly rejects: Counter<'reason'>;
  readonly deadLetters: Counter<'reason'>;
  readonly reconnects: Counter<'stream' | 'cause'>;
  readonly configErrors: Counter<'stream' | 'status'>;
  readonly connected: Gauge<'stream'>;
  readonly lastEventTime: Gauge<'stream'>;
  readonly queueDepth: Gauge<'stream'>;
  readonly backpressureSeconds: Counter<'stream'>;
  readonly publishSeconds: Histogram;
  readonly publishBatch: Histogram;
  readonly active: Gauge;
  readonly historyGaps: Counter<'stream'>;
  readonly resyncs: Counter<'stream' | 'reason'>;
  readonly resyncActive: Gauge<'stream'>;
  readonly operatorRequests: Counter<'action' | 'outcome'>;
  readonly connectorPings: Counter<'outcome'>;
}

export function createListenerMetrics(registry: Registry): ListenerMetrics {
  const registers = [registry];
  return {
    events: new Counter({ name: 'octi_listener_events_total', help: 'Stream events published (their Kafka transaction committed), by SSE event name', labelNames: ['stream', 'event'], registers }),
    commands: new Counter({
      name: 'octi_listener_commands_total',
      help: 'Indicator commands published (their Kafka transaction committed), by op and Defender type',
      labelNames: ['op', 'type'],
      registers,
    }),
    rejects: new Counter({
      name: 'octi_listener_rejects_total',
      help: "Values Defender cannot take (not representable, private IP, CIDR, …), by reason, once their event's Kafka transaction committed",
      labelNames: ['reason'],
      registers,
    }),
    deadLetters: new Counter({ name: 'octi_listener_dead_letters_total', help: 'Events written to the dead-letter topic, by reason', labelNames: ['reason'], registers }),
    reconnects: new Counter({ name: 'octi_listener_reconnects_total', help: 'Stream reconnections, by cause (network, config, watchdog, resync)', labelNames: ['stream', 'cause'], registers }),
    configErrors: new Counter({
      name: 'octi_listener_config_errors_total',
      help: 'Connections refused by OpenCTI for a configuration reason (401/403/404/410)',
      labelNames: ['stream', 'status'],
      registers,
    }),
    connected: new Gauge({ name: 'octi_listener_stream_connected', help: '1 while the stream is connected', labelNames: ['stream'], registers }),
    lastEventTime: new Gauge({ name: 'octi_listener_last_event_timestamp_seconds', help: 'Time of the last event or heartbeat received (age = time() - this)', labelNames: ['stream'], registers }),
    queueDepth: new Gauge({ name: 'octi_listener_queue_depth', help: 'Events waiting between the stream reader and the Kafka publisher', labelNames: ['stream'], registers }),
    backpressureSeconds: new Counter({
      name: 'octi_listener_backpressure_seconds_total',
      help: 'Time the stream reader waited for room in the queue (Kafka slower than OpenCTI)',
      labelNames: ['stream'],
      registers,
    }),
    publishSeconds: new Histogram({
      name: 'octi_listener_publish_seconds',
      help: 'Duration of one Kafka transaction (commands + checkpoint)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    publishBatch: new Histogram({ name: 'octi_listener_publish_batch_events', help: 'Stream events per Kafka transaction', buckets: [1, 10, 50, 100, 250, 500, 1000, 2500], registers }),
    active: new Gauge({ name: 'octi_listener_active', help: '1 on the active listener, 0 on a standby', registers }),
    historyGaps: new Counter({
      name: 'octi_listener_history_gaps_total',
      help: 'Reconnections that found the checkpoint older than the oldest event OpenCTI still holds (trimmed history)',
      labelNames: ['stream'],
      registers,
    }),
    resyncs: new Counter({
      name: 'octi_listener_resyncs_total',
      help: 'Resyncs started (replay of the current state, then retraction of what it did not assert), by reason',
      labelNames: ['stream', 'reason'],
      registers,
    }),
    resyncActive: new Gauge({ name: 'octi_listener_resync_active', help: '1 while a resync replay of the stream runs', labelNames: ['stream'], registers }),
    operatorRequests: new Counter({
      name: 'octi_listener_operator_requests_total',
      help: 'Operator requests from the control topic (replay, resync) acted on by this replica, by outcome (applied, duplicate, refused, not-active, failed)',
      labelNames: ['action', 'outcome'],
      registers,
    }),
    connectorPings: new Counter({
      name: 'octi_listener_connector_pings_total',
      help: 'Pings of the OpenCTI connector registration, by outcome (ok, failed: OpenCTI API unreachable or refusing, reset: a reset from OpenCTI acted on)',
      labelNames: ['outcome'],
      registers,
    }),
  };
}

/** The series the status publisher sends to the status topic for `octi-defender status`. */
export const LISTENER_STATUS_METRICS = [
  'octi_listener_active',
  'octi_listener_stream_connected',
  'octi_listener_last_event_timestamp_seconds',
  'octi_listener_queue_depth',
  'octi_listener_config_errors_total',
  'octi_listener_resync_active',
  'octi_listener_dead_letters_total',
] as const;
