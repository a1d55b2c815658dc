import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { PrometheusControllerMetrics } from '../../../src/metrics/prometheus-controller-metrics.js';
import { quantile, summariseProjects } from '../../../src/metrics/project-summary.js';
import { PrometheusProxyMetrics } from '../../../src/metrics/proxy-metrics.js';

// The summary read from a real registry, filled as the controller and the proxy fill it.

describe('summariseProjects', () => {
  it('counts cold starts, their median and phases, and requests with their latency per project', async () => {
    const registry = new Registry();
    const controller = new PrometheusControllerMetrics(registry);
    const proxy = new PrometheusProxyMetrics(registry);
    controller.projectObserved('web');
    controller.projectObserved('quiet');
    proxy.serviceDeployed('web');
    for (const seconds of [0.2, 0.3, 0.4]) controller.coldStart('web', 'fresh', seconds);
    controller.coldStartPhase('web', 'fresh', 'create', 0.1);
    controller.coldStartPhase('web', 'fresh', 'readiness', 0.3);
    controller.coldStartPhase('web', 'fresh', 'readiness', 0.1);
    for (let i = 0; i < 19; i++) proxy.requestFinished('web', 200, 0.004);
    proxy.requestFinished('web', 503, 2);

    const summary = summariseProjects(await registry.getMetricsAsJSON());
    expect(summary.proxy).toBe(true);
    expect(summary.projects.map((project) => project.project)).toEqual(['quiet', 'web']);
    const [quiet, web] = summary.projects;
    expect(quiet).toMatchObject({ coldStarts: 0, coldStartMedianSeconds: null, phases: [], requests: 0 });
    expect(web?.coldStarts).toBe(3);
    expect(web?.coldStartMedianSeconds).toBeGreaterThan(0.25);
    expect(web?.coldStartMedianSeconds).toBeLessThanOrEqual(0.5);
    expect(web?.phases).toEqual([
      { phase: 'create', count: 1, meanSeconds: 0.1 },
      { phase: 'readiness', count: 2, meanSeconds: expect.closeTo(0.2, 9) as number },
    ]);
    expect(web?.requests).toBe(20);
    expect(web?.requestsByClass).toEqual({ '2xx': 19, '5xx': 1 });
    expect(web?.latencyMedianSeconds).toBeLessThan(0.01);
  });

  it('says when the proxy counts requests elsewhere (luma controller)', async () => {
    const registry = new Registry();
    new PrometheusControllerMetrics(registry).projectObserved('web');
    expect(summariseProjects(await registry.getMetricsAsJSON())).toMatchObject({ proxy: false });
  });
});

describe('quantile', () => {
  it('interpolates inside the bucket that holds it, as histogram_quantile does', () => {
    const buckets = new Map([
      [0.1, 0],
      [0.5, 4],
      [1, 8],
      [Infinity, 8],
    ]);
    expect(quantile(0.5, buckets)).toBeCloseTo(0.5);
    expect(quantile(0.25, buckets)).toBeCloseTo(0.3);
    expect(quantile(0.5, new Map([[Infinity, 0]]))).toBeNull();
    expect(
      quantile(
        0.99,
        new Map([
          [1, 1],
          [Infinity, 9],
        ]),
      ),
    ).toBe(1);
  });
});
