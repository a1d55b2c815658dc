import { feeds } from '../api/feeds.js';
import { useFeed } from '../api/hooks.js';
import { useMetrics } from '../api/metrics.js';
import { PhaseChart } from '../components/phase-chart.js';
import { seconds } from '../format.js';

// A project's cold starts (count, median, phases) and requests (by status class, latency),
// as `luma metrics project/NAME` prints them.

export function ProjectMetricsView({ name }: { name: string }) {
  const projects = useFeed(feeds.projects);
  const events = useFeed(feeds.events);
  const { summary, error } = useMetrics(projects.revision + events.revision, name);
  if (error) return <p class="error">Metrics unavailable: {error}</p>;
  if (!summary) return <p class="muted">Loading…</p>;
  const metrics = summary.projects[0];
  const classes = Object.entries(metrics?.requestsByClass ?? {});
  return (
    <div class="metrics" aria-label="Metrics">
      <dl class="facts">
        <dt>Cold starts</dt>
        <dd data-metric="cold-starts">{metrics?.coldStarts ?? 0}</dd>
        <dt>Median cold start</dt>
        <dd data-metric="cold-start-median">{seconds(metrics?.coldStartMedianSeconds)}</dd>
        <dt>Requests</dt>
        <dd data-metric="requests">
          {summary.proxy
            ? `${metrics?.requests ?? 0}${classes.length > 0 ? ` (${classes.map(([k, n]) => `${k}: ${n}`).join(', ')})` : ''}`
            : 'counted by the proxy process'}
        </dd>
        <dt>Latency p50 / p95</dt>
        <dd>
          {seconds(metrics?.latencyMedianSeconds)} / {seconds(metrics?.latencyP95Seconds)}
        </dd>
      </dl>
      <h3>Cold start by phase (mean)</h3>
      <PhaseChart phases={metrics?.phases ?? []} />
    </div>
  );
}
