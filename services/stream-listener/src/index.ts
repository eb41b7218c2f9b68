export { Listener, explainConfigError, type Role } from './listener.ts';
export { listenerEnv, loadListenerConfig, type ListenerConfig } from './config.ts';
export { createListenerMetrics, type ListenerMetrics } from './metrics.ts';
export { decodeCheckpoint, encodeCheckpoint, startPosition, type Checkpoint } from './checkpoint.ts';
export type { DeadLetter } from './publisher.ts';
