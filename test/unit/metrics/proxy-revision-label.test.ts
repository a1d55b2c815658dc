import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { PrometheusProxyMetrics } from '../../../src/metrics/proxy-metrics.js';

function value(text: string, series: string): number | undefined {
  const found = text.split('\n').find((line) => line.startsWith(`${series} `));
  return found === undefined ? undefined : Number(found.slice(series.length + 1));
}

describe('PrometheusProxyMetrics: the revision label', () => {
  it('keeps a series per revision of a project, and drops them with the project', async () => {
    const registry = new Registry();
    const metrics = new PrometheusProxyMetrics(registry);
    metrics.serviceDeployed('web');
    metrics.requestFinished('web', 200, 0.01, 'web-1');
    metrics.requestFinished('web', 500, 0.01, 'web-2');
    metrics.requestFinished('web', 502, 0.01, 'web-2');
    const text = await registry.metrics();
    expect(value(text, 'luma_proxy_requests_total{project="web",revision="web-1",code_class="2xx"}')).toBe(1);
    expect(value(text, 'luma_proxy_requests_total{project="web",revision="web-2",code_class="5xx"}')).toBe(2);
    expect(
      value(text, 'luma_proxy_request_duration_seconds_count{project="web",revision="web-2",code_class="5xx"}'),
    ).toBe(2);
    metrics.serviceRemoved('web');
    expect(await registry.metrics()).not.toContain('revision="web-2"');
  });
});
