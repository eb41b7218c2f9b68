// A service's life as every entry point runs it: the probe/metrics server, then the service; on
// SIGTERM/SIGINT the probes report draining, the progress line stops, the service's own close steps
// run in order, and the HTTP server closes last. A start that throws is logged as fatal with the
// service's explanation and exits 1.
import type { HealthServer } from './health-server.ts';
import type { Logger } from './logger.ts';
import { installShutdown, type Shutdown, type ShutdownStep } from './shutdown.ts';

interface ServeOptions {
  readonly logger: Logger;
  readonly health: HealthServer;
  readonly shutdownTimeoutMs: number;
  /** Stops the periodic progress line (logProgress's return). */
  readonly stopProgress: () => void;
  /** The service's close steps, between "progress" and "http" (stop reading, finish, close clients…). */
  readonly steps: readonly ShutdownStep[];
  readonly start: () => Promise<void>;
  /** The fatal message for a failed start (e.g. unreachableKafka's, or a generic one). */
  readonly startFailure: (err: unknown) => string;
  /** Injected in tests: no signal handlers, another exit. */
  readonly signals?: readonly NodeJS.Signals[];
  readonly exit?: (code: number) => void;
}

export async function serve(o: ServeOptions): Promise<Shutdown> {
  const exit = o.exit ?? ((code: number) => process.exit(code));
  const shutdown = installShutdown({
    logger: o.logger,
    timeoutMs: o.shutdownTimeoutMs,
    exit,
    ...(o.signals && { signals: o.signals }),
    steps: [
      { name: 'stop probes', run: () => o.health.drain() },
      { name: 'progress', run: o.stopProgress },
      ...o.steps,
      { name: 'http', run: () => o.health.close() },
    ],
  });
  try {
    await o.health.start();
    await o.start();
  } catch (err) {
    o.logger.fatal({ err }, o.startFailure(err));
    exit(1);
  }
  return shutdown;
}
