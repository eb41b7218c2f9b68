// Graceful shutdown: on SIGTERM/SIGINT run the service's close steps in order (stop reading, finish
// the batch, commit, leave the group, close servers), bounded by a timeout so a stuck dependency
// cannot outlive Kubernetes' grace period. A second signal exits at once.
import type { Logger } from 'pino';

export interface ShutdownStep {
  readonly name: string;
  readonly run: () => Promise<void> | void;
}

interface ShutdownOptions {
  readonly logger: Logger;
  readonly steps: readonly ShutdownStep[];
  readonly timeoutMs: number;
  readonly signals?: readonly NodeJS.Signals[];
  /** Injected in tests; defaults to process.exit. */
  readonly exit?: (code: number) => void;
}

export interface Shutdown {
  /** Runs the steps once; later calls return the same promise. Resolves with the exit code. */
  trigger(reason: string): Promise<number>;
  /** Removes the signal handlers. */
  dispose(): void;
}

export function installShutdown(opts: ShutdownOptions): Shutdown {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const signals = opts.signals ?? ['SIGTERM', 'SIGINT'];
  let running: Promise<number> | undefined;

  const runSteps = async (): Promise<number> => {
    let code = 0;
    for (const step of opts.steps) {
      try {
        await step.run();
      } catch (err) {
        code = 1;
        opts.logger.error({ err, step: step.name }, 'shutdown step failed');
      }
    }
    return code;
  };

  const trigger = (reason: string): Promise<number> => {
    if (running) return running;
    opts.logger.info({ reason, timeoutMs: opts.timeoutMs }, 'shutting down');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<number>((resolve) => {
      timer = setTimeout(() => {
        opts.logger.error({ timeoutMs: opts.timeoutMs }, 'shutdown timed out; exiting');
        resolve(1);
      }, opts.timeoutMs);
    });
    running = Promise.race([runSteps(), timeout]).then((code) => {
      clearTimeout(timer);
      opts.logger.info({ code }, 'shutdown complete');
      exit(code);
      return code;
    });
    return running;
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (running) {
      opts.logger.warn({ signal }, 'second signal; exiting now');
      exit(1);
      return;
    }
    void trigger(signal);
  };
  for (const s of signals) process.on(s, onSignal);

  return {
    trigger,
    dispose: () => {
      for (const s of signals) process.off(s, onSignal);
    },
  };
}
