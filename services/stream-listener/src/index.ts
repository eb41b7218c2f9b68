// The package entry, for the command line (services/cli): configuration, checkpoints, control.
export { listenerEnv, loadListenerConfig, type ListenerConfig } from './config.ts';
export { decodeCheckpoint, encodeCheckpoint } from './checkpoint.ts';
export { ListenerControl } from './control.ts';
