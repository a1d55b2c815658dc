import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ProxyMetrics } from '../../../src/metrics/proxy-metrics.js';
import { ProxyServer } from '../../../src/proxy/proxy-server.js';

// What the proxy tells its ProxyMetrics, with loopback backends and a recording fake: no
// Docker, no prom-client.

type Call = [name: keyof ProxyMetrics, service: string, value?: number];

function recordingMetrics(): { metrics: ProxyMetrics; calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    metrics: {
      serviceDeployed: (service) => calls.push(['serviceDeployed', service]),
      serviceRemoved: (service) => calls.push(['serviceRemoved', service]),
      requestFinished: (service, status) => calls.push(['requestFinished', service, status]),
      requestHeld: (service) => calls.push(['requestHeld', service]),
      heldRequestRouted: (service) => calls.push(['heldRequestRouted', service]),
      heldRequestFirstByte: (service) => calls.push(['heldRequestFirstByte', service]),
      wakeTimedOut: (service) => calls.push(['wakeTimedOut', service]),
      queueLength: (service, length) => calls.push(['queueLength', service, length]),
      queuedRequestRouted: (service) => calls.push(['queuedRequestRouted', service]),
      queueRejected: (service) => calls.push(['queueRejected', service]),
    },
  };
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function backend(): Promise<string> {
  const server = http.createServer((_req, res) => res.end('hello'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function proxyWith(
  metrics: ProxyMetrics,
  wake: (proxy: ProxyServer, service: string) => void,
): Promise<{ proxy: ProxyServer; port: number }> {
  const proxy = new ProxyServer({ metrics });
  proxy.setHooks({ wake: (service) => wake(proxy, service) });
  const { port } = await proxy.listen('127.0.0.1', 0);
  cleanups.push(() => proxy.close());
  return { proxy, port };
}

function get(port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

describe('proxy metrics calls', () => {
  it('a held request is counted as held, routed, its first byte timed, and finished with its status', async () => {
    const { metrics, calls } = recordingMetrics();
    const target = await backend();
    const { proxy, port } = await proxyWith(
      metrics,
      (self, service) => void self.deploy({ service, hosts: ['app.test'], targets: [target] }),
    );
    await proxy.deploy({ service: 'app', hosts: ['app.test'], targets: [] });

    expect(await get(port, 'app.test')).toBe(200);
    expect(calls).toEqual([
      ['serviceDeployed', 'app'],
      ['requestHeld', 'app'],
      ['queueLength', 'app', 1],
      ['serviceDeployed', 'app'],
      ['queueLength', 'app', 0],
      ['heldRequestRouted', 'app'],
      ['heldRequestFirstByte', 'app'],
      ['requestFinished', 'app', 200],
    ]);
  });

  it('a request that finds a target is only finished; an unknown host is not counted (its name would be an unbounded label)', async () => {
    const { metrics, calls } = recordingMetrics();
    const { proxy, port } = await proxyWith(metrics, () => undefined);
    await proxy.deploy({ service: 'app', hosts: ['app.test'], targets: [await backend()] });
    calls.length = 0;

    expect(await get(port, 'app.test')).toBe(200);
    expect(await get(port, 'nobody.test')).toBe(404);
    expect(calls).toEqual([['requestFinished', 'app', 200]]);
  });

  it('a held request that never gets a target is a wake timeout, finished with 503', async () => {
    const { metrics, calls } = recordingMetrics();
    const { proxy, port } = await proxyWith(metrics, () => undefined);
    await proxy.deploy({ service: 'app', hosts: ['app.test'], targets: [], startupTimeoutMs: 50 });

    expect(await get(port, 'app.test')).toBe(503);
    expect(calls.slice(1)).toEqual([
      ['requestHeld', 'app'],
      ['queueLength', 'app', 1],
      ['queueLength', 'app', 0],
      ['wakeTimedOut', 'app'],
      ['requestFinished', 'app', 503],
    ]);
    await proxy.remove('app');
    expect(calls.at(-1)).toEqual(['serviceRemoved', 'app']);
  });
});
