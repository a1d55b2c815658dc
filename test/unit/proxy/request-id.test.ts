import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyServer } from '../../../src/proxy/proxy-server.js';

// X-Request-Id: given to every request the proxy forwards (a client's well-formed id is
// kept), and passed with the wake of a held request so the controller's log names it.

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function backend(seen: IncomingHttpHeaders[]): Promise<string> {
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    res.end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function get(port: number, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', headers: { host: 'app.test', ...headers }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

async function startProxy(
  wake: (proxy: ProxyServer, service: string, requestId?: string) => void,
): Promise<{ proxy: ProxyServer; port: number }> {
  const proxy = new ProxyServer();
  proxy.setHooks({ wake: (service, requestId) => wake(proxy, service, requestId) });
  const { port } = await proxy.listen('127.0.0.1', 0);
  cleanups.push(() => proxy.close());
  return { proxy, port };
}

describe('X-Request-Id', () => {
  it('is generated when absent, kept when well-formed, replaced when not', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const { proxy, port } = await startProxy(() => undefined);
    await proxy.deploy({ service: 'app', hosts: ['app.test'], targets: [await backend(seen)] });

    await get(port);
    await get(port, { 'x-request-id': 'trace-42.a:b' });
    await get(port, { 'x-request-id': 'has spaces and\ttabs' });

    expect(seen[0]?.['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]?.['x-request-id']).toBe('trace-42.a:b');
    expect(seen[2]?.['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[2]?.['x-request-id']).not.toBe(seen[0]?.['x-request-id']);
  });

  it('is passed with the wake of a held request, and the app gets the same id', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const target = await backend(seen);
    const wakes: Array<string | undefined> = [];
    const { proxy, port } = await startProxy((self, service, requestId) => {
      wakes.push(requestId);
      void self.deploy({ service, hosts: ['app.test'], targets: [target] });
    });
    await proxy.deploy({ service: 'app', hosts: ['app.test'], targets: [] });

    expect(await get(port, { 'x-request-id': 'cold-1' })).toBe(200);
    expect(wakes).toEqual(['cold-1']);
    expect(seen[0]?.['x-request-id']).toBe('cold-1');
  });
});
