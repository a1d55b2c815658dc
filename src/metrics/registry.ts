import { collectDefaultMetrics, Registry } from 'prom-client';

// One Prometheus registry per process: `luma up` registers the controller's and the
// proxy's metrics in the same one, `luma controller` and `luma proxy run` each their own.
// Node's process metrics carry the same prefix, so every series Luma exports starts with
// `luma_` and a dashboard can use nothing else.

export const METRIC_PREFIX = 'luma_';

/**
 * prom-client's sums of active handles, requests and resources are gauges named `_total`,
 * which Prometheus reserves for counters (`promtool check metrics` refuses them); the
 * per-type gauges beside them (`luma_nodejs_active_handles{type}`...) carry the same numbers.
 */
const MISNAMED_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/**
 * How often the event-loop lag is sampled. prom-client's default, 10 ms, wakes an idle
 * process about 190 times a second, and that alone was 1.2 % of a core for an idle `luma up`
 * (0.2 % at 100 ms, measured with strace and /proc). A blocked loop still shows: a sample
 * falls in it at most 100 ms after it starts, and its whole delay is recorded.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({
    register: registry,
    prefix: METRIC_PREFIX,
    eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS,
  });
  for (const name of MISNAMED_DEFAULT_METRICS) registry.removeSingleMetric(`${METRIC_PREFIX}${name}`);
  return registry;
}

/** HTTP status code → a bounded label value (`2xx`…`5xx`). */
export function statusClass(statusCode: number): string {
  if (statusCode < 100 || statusCode > 599) return 'other';
  return `${Math.floor(statusCode / 100)}xx`;
}

/**
 * Lease services (`lease.NAME`) are one per lease: as a label value they would grow
 * without bound, so they are counted together under `lease.*`.
 */
export function serviceLabel(service: string): string {
  if (service.startsWith('lease.')) return 'lease.*';
  // A revision's service (revision.<project>.<number>) counts for its project.
  if (service.startsWith('revision.')) return service.slice('revision.'.length, service.lastIndexOf('.'));
  return service;
}

/** Buckets for cold starts and their phases: from an unpause (tens of ms) to slow starts. */
export const COLD_START_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Buckets for proxied requests. */
/** Waits in a project's queue for a free slot: from a blink to its request timeout (up to an hour). */
export const QUEUE_WAIT_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
export const REQUEST_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Buckets for image builds and reconciles that include them. */
export const BUILD_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
export const RECONCILE_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
