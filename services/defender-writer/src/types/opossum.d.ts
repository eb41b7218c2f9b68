// opossum 10 ships no types (and @types/opossum lags behind); this declares the part the writer uses.
declare module 'opossum' {
  import { EventEmitter } from 'node:events';

  interface CircuitBreakerOptions<TArgs extends unknown[]> {
    /** Per-call timeout in ms, or false to rely on the action's own timeouts. */
    timeout?: number | false;
    errorThresholdPercentage?: number;
    resetTimeout?: number;
    rollingCountTimeout?: number;
    rollingCountBuckets?: number;
    volumeThreshold?: number;
    /** Truthy = the error does not count as a failure (the call still rejects). */
    errorFilter?: (error: unknown, ...args: TArgs) => boolean;
    name?: string;
  }

  export default class CircuitBreaker<TArgs extends unknown[] = unknown[], TResult = unknown> extends EventEmitter {
    constructor(action: (...args: TArgs) => Promise<TResult>, options?: CircuitBreakerOptions<TArgs>);
    fire(...args: TArgs): Promise<TResult>;
    open(): void;
    close(): void;
    shutdown(): void;
    readonly opened: boolean;
    readonly halfOpen: boolean;
    readonly closed: boolean;
  }
}
