// A short progress line in the service's log every so often (what it read, sent, its lag…), so a
// log reader sees it working without scraping /metrics. The figures come from the service's own
// metrics registry: one source of truth for both.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

const PROGRESS_INTERVAL_MS = 30_000;

/** Sum of a metric's values whose labels match `where` (0 when the metric is unknown or empty). */
export async function metricTotal(registry: Registry, name: string, where: Record<string, string> = {}): Promise<number> {
  const metric = await registry.getSingleMetric(name)?.get();
  let sum = 0;
  for (const v of metric?.values ?? []) {
    if (Object.entries(where).every(([k, want]) => String(v.labels[k]) === want)) sum += v.value;
  }
  return sum;
}

/**
 * Logs `progress` with the figures `read` returns, every `intervalMs` (timer unref'd: it never keeps
 * the process alive). Returns the function that stops it.
 */
export function logProgress(logger: Logger, read: () => Promise<Record<string, number>>, intervalMs = PROGRESS_INTERVAL_MS): () => void {
  const timer = setInterval(() => {
    read().then(
      (figures) => logger.info(figures, 'progress'),
      (err: unknown) => logger.debug({ err }, 'progress figures unavailable'),
    );
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
