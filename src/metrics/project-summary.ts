// Per project, what the console and `luma metrics` show of the Prometheus registry: cold
// starts with their median and the mean of each phase, requests by status class with the
// median and 95th percentile of their latency. Pure: it reads what prom-client's
// getMetricsAsJSON() returns, so a test feeds it literal families.

export interface MetricFamily {
  name: string;
  values: ReadonlyArray<{ labels: Partial<Record<string, string | number>>; value: number; metricName?: string }>;
}

export interface PhaseTiming {
  phase: string;
  /** Cold starts that went through this phase (a thaw has no image or create phase). */
  count: number;
  meanSeconds: number;
}

export interface ProjectMetrics {
  project: string;
  coldStarts: number;
  /** Estimated from histogram buckets, as Prometheus' histogram_quantile does; null with no cold start. */
  coldStartMedianSeconds: number | null;
  /** In the order a fresh start runs them. */
  phases: PhaseTiming[];
  requests: number;
  /** By status class (`2xx`…), zeros left out. */
  requestsByClass: Record<string, number>;
  latencyMedianSeconds: number | null;
  latencyP95Seconds: number | null;
}

export interface MetricsSummary {
  /** False where the proxy runs in another process (`luma controller`): requests are then its to count. */
  proxy: boolean;
  projects: ProjectMetrics[];
}

const COLD_STARTS = 'luma_cold_starts_total';
const COLD_START_SECONDS = 'luma_cold_start_duration_seconds';
const PHASE_SECONDS = 'luma_cold_start_phase_duration_seconds';
const REQUESTS = 'luma_proxy_requests_total';
const REQUEST_SECONDS = 'luma_proxy_request_duration_seconds';
const PHASE_ORDER = ['image_ready', 'create', 'start', 'readiness'];

/** Cumulative bucket counts by upper bound, summed over the series a filter keeps. */
type Buckets = Map<number, number>;

export function summariseProjects(families: readonly MetricFamily[]): MetricsSummary {
  const byName = new Map(families.map((family) => [family.name, family]));
  const projects = new Set<string>();
  for (const name of [COLD_STARTS, REQUESTS]) {
    for (const { labels } of byName.get(name)?.values ?? []) {
      const project = String(labels.project ?? '');
      if (project && project !== 'lease.*') projects.add(project);
    }
  }
  return {
    proxy: byName.has(REQUESTS),
    projects: [...projects].sort().map((project) => summariseProject(byName, project)),
  };
}

function summariseProject(byName: Map<string, MetricFamily>, project: string): ProjectMetrics {
  const mine = (name: string, suffix = ''): MetricFamily['values'] =>
    (byName.get(name)?.values ?? []).filter(
      (value) => value.labels.project === project && (value.metricName ?? name) === name + suffix,
    );
  const requestsByClass: Record<string, number> = {};
  for (const { labels, value } of mine(REQUESTS)) {
    if (value > 0)
      requestsByClass[String(labels.code_class)] = (requestsByClass[String(labels.code_class)] ?? 0) + value;
  }
  const latency = bucketsOf(mine(REQUEST_SECONDS, '_bucket'));
  return {
    project,
    coldStarts: total(mine(COLD_STARTS)),
    coldStartMedianSeconds: quantile(0.5, bucketsOf(mine(COLD_START_SECONDS, '_bucket'))),
    phases: phasesOf(mine(PHASE_SECONDS, '_sum'), mine(PHASE_SECONDS, '_count')),
    requests: Object.values(requestsByClass).reduce((sum, count) => sum + count, 0),
    requestsByClass,
    latencyMedianSeconds: quantile(0.5, latency),
    latencyP95Seconds: quantile(0.95, latency),
  };
}

function total(values: MetricFamily['values']): number {
  return values.reduce((sum, { value }) => sum + value, 0);
}

function phasesOf(sums: MetricFamily['values'], counts: MetricFamily['values']): PhaseTiming[] {
  const totals = new Map<string, { sum: number; count: number }>();
  const entry = (phase: string) => totals.get(phase) ?? totals.set(phase, { sum: 0, count: 0 }).get(phase)!;
  for (const { labels, value } of sums) entry(String(labels.phase)).sum += value;
  for (const { labels, value } of counts) entry(String(labels.phase)).count += value;
  return [...totals]
    .filter(([, { count }]) => count > 0)
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([phase, { sum, count }]) => ({ phase, count, meanSeconds: sum / count }));
}

function rank(phase: string): number {
  const index = PHASE_ORDER.indexOf(phase);
  return index < 0 ? PHASE_ORDER.length : index;
}

function bucketsOf(values: MetricFamily['values']): Buckets {
  const buckets: Buckets = new Map();
  for (const { labels, value } of values) {
    const bound = Number(labels.le);
    buckets.set(bound, (buckets.get(bound) ?? 0) + value);
  }
  return buckets;
}

/**
 * The q-quantile of cumulative buckets, interpolated linearly inside the bucket that holds
 * it (Prometheus' histogram_quantile); the highest finite bound when it falls in +Inf.
 */
export function quantile(q: number, buckets: Buckets): number | null {
  const sorted = [...buckets].sort(([a], [b]) => a - b);
  const count = sorted.at(-1)?.[1] ?? 0;
  if (count === 0) return null;
  const wanted = q * count;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const [bound, cumulative] of sorted) {
    if (cumulative >= wanted) {
      if (!Number.isFinite(bound)) return lowerBound;
      const inBucket = cumulative - lowerCount;
      return inBucket === 0 ? bound : lowerBound + ((bound - lowerBound) * (wanted - lowerCount)) / inBucket;
    }
    lowerBound = bound;
    lowerCount = cumulative;
  }
  return lowerBound;
}
