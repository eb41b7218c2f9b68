// sighting-reporter: Defender for Endpoint alerts raised by our custom indicators → OpenCTI sightings.
export * from './config.ts';
export * from './alert.ts';
export * from './match.ts';
export * from './aggregate.ts';
export * from './fold.ts';
export * from './records.ts';
export * from './sighting-id.ts';
export * from './alerts-client.ts';
export * from './owned.ts';
export * from './opencti.ts';
export * from './metrics.ts';
export * from './reporter.ts';
export * from './wiring.ts';
