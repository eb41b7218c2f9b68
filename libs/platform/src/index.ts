export * from './config.ts';
export * from './common-env.ts';
export * from './logger.ts';
export * from './metrics.ts';
export * from './health-server.ts';
export * from './shutdown.ts';
export * from './progress.ts';
export * from './serve.ts';
