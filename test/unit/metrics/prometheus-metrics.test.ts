import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { registerControllerCollectors } from '../../../src/metrics/controller-collectors.js';
import { PrometheusControllerMetrics } from '../../../src/metrics/prometheus-controller-metrics.js';
import { PrometheusProxyMetrics } from '../../../src/metrics/proxy-metrics.js';
import { createMetricsRegistry, serviceLabel, statusClass } from '../../../src/metrics/registry.js';
import type { Kind, ObjectOfKind } from '../../../src/model/types.js';
import type { UsageRecord } from '../../../src/usage/record.js';

// The Prometheus side: names, labels, counters that start at zero, histograms that appear
// with their first observation, series that go with their project, and the state read at
// scrape time.

function line(text: string, series: string): number | undefined {
  const found = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return found === undefined ? undefined : Number(found.slice(series.length + 1));
}

describe('labels', () => {
  it('status classes and lease services stay bounded', () => {
    expect([statusClass(200), statusClass(404), statusClass(503), statusClass(0)]).toEqual([
      '2xx',
      '4xx',
      '5xx',
      'other',
    ]);
    expect(serviceLabel('web')).toBe('web');
    expect(serviceLabel('lease.alice')).toBe('lease.*');
  });
});

describe('the registry', () => {
  it('carries Node process metrics under luma_, without the gauges named _total', async () => {
    const text = await createMetricsRegistry().metrics();
    expect(text).toContain('luma_process_cpu_seconds_total');
    expect(text).toContain('luma_nodejs_eventloop_lag_p99_seconds');
    expect(text).not.toContain('luma_nodejs_active_handles_total');
  });
});

describe('PrometheusProxyMetrics', () => {
  it("counts requests by project and status class, and starts a deployed project's counters at zero, not its histograms", async () => {
    const registry = new Registry();
    const metrics = new PrometheusProxyMetrics(registry);
    metrics.serviceDeployed('web');
    const idle = await registry.metrics();
    expect(line(idle, 'luma_proxy_requests_total{project="web",code_class="5xx"}')).toBe(0);
    expect(line(idle, 'luma_proxy_held_requests_total{project="web"}')).toBe(0);
    expect(line(idle, 'luma_proxy_wake_timeouts_total{project="web"}')).toBe(0);
    expect(idle).not.toMatch(/^luma_proxy_(request|hold)_duration_seconds_\w+\{[^}]*project="web"/m);
    expect(idle).not.toMatch(/^luma_proxy_cold_start_first_byte_seconds_\w+\{[^}]*project="web"/m);
    metrics.requestFinished('web', 200, 0.01);
    metrics.requestFinished('lease.alice', 502, 0.01);
    metrics.requestHeld('web');
    metrics.wakeTimedOut('web');
    const text = await registry.metrics();
    expect(line(text, 'luma_proxy_requests_total{project="web",code_class="2xx"}')).toBe(1);
    expect(line(text, 'luma_proxy_requests_total{project="lease.*",code_class="5xx"}')).toBe(1);
    expect(line(text, 'luma_proxy_held_requests_total{project="web"}')).toBe(1);
    expect(line(text, 'luma_proxy_wake_timeouts_total{project="web"}')).toBe(1);

    metrics.serviceRemoved('web');
    expect(await registry.metrics()).not.toContain('project="web"');
  });

  it('prints request durations as a histogram: cumulative buckets, +Inf, sum and count, for every class a request had', async () => {
    const registry = new Registry();
    const metrics = new PrometheusProxyMetrics(registry);
    metrics.serviceDeployed('web');
    metrics.requestFinished('web', 200, 0.003);
    metrics.requestFinished('web', 204, 0.02);
    metrics.requestFinished('web', 200, 60);
    metrics.requestFinished('web', 101, 0.5);
    const text = await registry.metrics();
    const series = (suffix: string, labels: string): number | undefined =>
      line(text, `luma_proxy_request_duration_seconds${suffix}{${labels}}`);
    expect(text).toContain('# TYPE luma_proxy_request_duration_seconds histogram');
    expect(text).toContain('# TYPE luma_proxy_requests_total counter');
    expect(series('_bucket', 'le="0.001",project="web",code_class="2xx"')).toBe(0);
    expect(series('_bucket', 'le="0.005",project="web",code_class="2xx"')).toBe(1);
    expect(series('_bucket', 'le="0.025",project="web",code_class="2xx"')).toBe(2);
    expect(series('_bucket', 'le="10",project="web",code_class="2xx"')).toBe(2);
    expect(series('_bucket', 'le="+Inf",project="web",code_class="2xx"')).toBe(3);
    expect(series('_sum', 'project="web",code_class="2xx"')).toBeCloseTo(60.023);
    expect(series('_count', 'project="web",code_class="2xx"')).toBe(3);
    // A class counted at zero but never answered has no histogram lines yet.
    expect(line(text, 'luma_proxy_requests_total{project="web",code_class="3xx"}')).toBe(0);
    expect(series('_count', 'project="web",code_class="3xx"')).toBeUndefined();
    expect(line(text, 'luma_proxy_requests_total{project="web",code_class="1xx"}')).toBe(1);

    // Every class goes with the project, those that were never zeroed too.
    metrics.serviceRemoved('web');
    expect(await registry.metrics()).not.toContain('project="web"');
  });
});

describe('PrometheusControllerMetrics', () => {
  it("starts a project's counters at zero for every tier, its histograms at their first observation, and removes them with the project", async () => {
    const registry = new Registry();
    const metrics = new PrometheusControllerMetrics(registry);
    metrics.projectObserved('web');
    let text = await registry.metrics();
    for (const tier of ['paused', 'stopped', 'fresh'])
      expect(line(text, `luma_cold_starts_total{project="web",tier="${tier}"}`)).toBe(0);
    expect(line(text, 'luma_scale_events_total{project="web",direction="up"}')).toBe(0);
    expect(line(text, 'luma_instance_start_failures_total{project="web"}')).toBe(0);
    expect(line(text, 'luma_liveness_failures_total{project="web"}')).toBe(0);
    expect(text).not.toMatch(/^luma_cold_start_(phase_)?duration_seconds_\w+\{[^}]*project="web"/m);

    metrics.coldStart('web', 'stopped', 0.3);
    metrics.coldStartPhase('web', 'stopped', 'readiness', 0.2);
    metrics.reconciled('Project', 'error', 0.01);
    metrics.imageBuilt('succeeded', 12);
    metrics.livenessFailed('web');
    text = await registry.metrics();
    expect(line(text, 'luma_liveness_failures_total{project="web"}')).toBe(1);
    expect(line(text, 'luma_cold_starts_total{project="web",tier="stopped"}')).toBe(1);
    expect(line(text, 'luma_cold_starts_total{project="web",tier="fresh"}')).toBe(0);
    expect(line(text, 'luma_cold_start_duration_seconds_count{project="web",tier="stopped"}')).toBe(1);
    expect(
      line(text, 'luma_cold_start_phase_duration_seconds_count{project="web",tier="stopped",phase="readiness"}'),
    ).toBe(1);
    expect(text).not.toContain('luma_cold_start_duration_seconds_count{project="web",tier="fresh"}');
    expect(line(text, 'luma_cold_start_duration_seconds_bucket{le="0.5",project="web",tier="stopped"}')).toBe(1);
    expect(line(text, 'luma_reconcile_errors_total{kind="Project"}')).toBe(1);
    expect(line(text, 'luma_reconcile_errors_total{kind="Lease"}')).toBe(0);
    expect(line(text, 'luma_image_build_duration_seconds_count{result="failed"}')).toBe(0);

    metrics.projectRemoved('web');
    expect(await registry.metrics()).not.toContain('project="web"');
  });
});

describe('controller collectors', () => {
  it('read instances, pools, leases and images from the store, queue depth from the controller, and lease sums from the ledger', async () => {
    const objects: Partial<Record<Kind, unknown[]>> = {
      Project: [
        {
          metadata: { name: 'web' },
          spec: {},
          status: {
            instances: { running: 2, starting: 0, paused: 1, stopped: 0 },
            pool: { size: 3, ready: 2, starting: 1 },
          },
        },
      ],
      Lease: [
        { metadata: { name: 'a' }, spec: { project: 'web' }, status: { phase: 'Active' } },
        { metadata: { name: 'b' }, spec: { project: 'web' }, status: { phase: 'Active' } },
      ],
      Image: [{ metadata: { name: 'web' }, spec: {}, status: { phase: 'Ready' } }],
    };
    const records = [
      { project: 'web', reason: 'Expired', cost: 0.5, currency: 'EUR', runtimeSeconds: 60 },
      { project: 'web', reason: 'Expired', cost: 0.25, currency: 'EUR', runtimeSeconds: 30 },
    ] as UsageRecord[];
    const registry = new Registry();
    registerControllerCollectors(registry, {
      store: { list: <K extends Kind>(kind: K) => (objects[kind] ?? []) as ObjectOfKind<K>[] },
      usage: { records: () => records },
      queueDepth: () => 7,
    });
    const text = await registry.metrics();
    expect(line(text, 'luma_instances{project="web",state="running"}')).toBe(2);
    expect(line(text, 'luma_instances{project="web",state="paused"}')).toBe(1);
    expect(line(text, 'luma_pool_instances{project="web",state="ready"}')).toBe(2);
    expect(line(text, 'luma_pool_instances{project="web",state="desired"}')).toBe(3);
    expect(line(text, 'luma_leases{project="web",phase="Active"}')).toBe(2);
    expect(line(text, 'luma_images{phase="Ready"}')).toBe(1);
    expect(line(text, 'luma_images{phase="Failed"}')).toBe(0);
    expect(line(text, 'luma_work_queue_depth')).toBe(7);
    expect(line(text, 'luma_leases_ended_total{project="web",reason="Expired"}')).toBe(2);
    expect(line(text, 'luma_lease_cost_total{project="web",currency="EUR"}')).toBe(0.75);
    expect(line(text, 'luma_lease_runtime_seconds_total{project="web"}')).toBe(90);
  });
});
