// One prom-client registry per service, with the process metrics and a common prefix.
import { Registry, collectDefaultMetrics } from 'prom-client';

export { Counter, Gauge, Histogram, Summary, Registry } from 'prom-client';

export function createRegistry(opts: { prefix: string; labels?: Record<string, string> }): Registry {
  const registry = new Registry();
  if (opts.labels) registry.setDefaultLabels(opts.labels);
  collectDefaultMetrics({ register: registry, prefix: `${opts.prefix}_` });
  return registry;
}
