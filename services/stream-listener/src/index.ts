export { Listener, explainConfigError, appliedRequestKey, type Role, type StreamPosition, type RewriteOutcome } from './listener.ts';
export { ListenerControl } from './control.ts';
export { ConnectorPresence } from './connector.ts';
export { listenerEnv, loadListenerConfig, type ListenerConfig } from './config.ts';
export { createListenerMetrics, type ListenerMetrics } from './metrics.ts';
export { decodeCheckpoint, encodeCheckpoint, startPosition, type Checkpoint } from './checkpoint.ts';
export type { DeadLetter } from './publisher.ts';
