import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManagementClient } from '../../../src/proxy/management-client.js';
import { ManagementServer } from '../../../src/proxy/management-server.js';
import { ProxyServer } from '../../../src/proxy/proxy-server.js';
import { silentLogger } from '../../../src/util/logger.js';

// The proxy counts each revision's answers (requests, 5xx, latency) where it records
// every request, and a controller reads them in-process or over the management socket
// (`luma proxy run`). Loopback backends, no Docker.

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Answers 500 on /fail, 200 elsewhere. */
async function backend(): Promise<string> {
  const server = http.createServer((req, res) => {
    res.statusCode = req.url === '/fail' ? 500 : 200;
    res.end('x');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function get(port: number, host: string, urlPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: urlPath, headers: { host }, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      })
      .on('error', reject);
  });
}

describe('per-revision outcome counts', () => {
  it('counts the answers of each revision, and none for a service without one', async () => {
    const proxy = new ProxyServer();
    const { port } = await proxy.listen('127.0.0.1', 0);
    cleanups.push(() => proxy.close());
    const target = await backend();
    await proxy.deploy({ service: 'web', hosts: ['web.localhost'], targets: [target], revision: 'web-2' });
    await proxy.deploy({ service: 'plain', hosts: ['plain.localhost'], targets: [target] });
    for (const urlPath of ['/', '/fail', '/fail', '/']) await get(port, 'web.localhost', urlPath);
    await get(port, 'plain.localhost', '/fail');

    const outcomes = await proxy.revisionOutcomes();
    expect(Object.keys(outcomes)).toEqual(['web-2']);
    expect(outcomes['web-2']).toMatchObject({ requests: 4, errors: 2 });
    expect(outcomes['web-2']?.latencyBuckets.reduce((sum, count) => sum + count, 0)).toBe(4);
    expect((await proxy.getService('web'))?.revision).toBe('web-2');
  });

  it('forgets a revision once no route names it: the map shrinks as revisions and projects go', async () => {
    const proxy = new ProxyServer();
    const { port } = await proxy.listen('127.0.0.1', 0);
    cleanups.push(() => proxy.close());
    const target = await backend();
    const web = { service: 'web', hosts: ['web.localhost'], targets: [target] };
    await proxy.deploy({ ...web, revision: 'web-1' });
    await get(port, 'web.localhost', '/');
    // Revision 2 splits with 1 (served by its own service): both stay counted.
    await proxy.deploy({ service: 'revision.web.1', hosts: [], targets: [target], revision: 'web-1' });
    const split = [
      { service: 'revision.web.1', revision: 'web-1', weight: 50 },
      { service: 'web', revision: 'web-2', weight: 50 },
    ];
    await proxy.deploy({ ...web, revision: 'web-2', split });
    for (let i = 0; i < 4; i++) await get(port, 'web.localhost', '/');
    await proxy.deploy({ service: 'api', hosts: ['api.localhost'], targets: [target], revision: 'api-1' });
    await get(port, 'api.localhost', '/');
    expect(Object.keys(await proxy.revisionOutcomes()).sort()).toEqual(['api-1', 'web-1', 'web-2']);

    // The split ends and revision 1's service goes (pruned): its counts go with it.
    await proxy.deploy({ ...web, revision: 'web-2', split: [] });
    expect(Object.keys(await proxy.revisionOutcomes()).sort()).toEqual(['api-1', 'web-1', 'web-2']);
    await proxy.remove('revision.web.1');
    expect(Object.keys(await proxy.revisionOutcomes()).sort()).toEqual(['api-1', 'web-2']);
    // The project is deleted: its route goes, and so do its revision's counts.
    await proxy.remove('web');
    expect(Object.keys(await proxy.revisionOutcomes())).toEqual(['api-1']);
    expect((await proxy.revisionOutcomes())['api-1']).toMatchObject({ requests: 1 });
  });

  it('reaches a controller over the management socket', async () => {
    const proxy = new ProxyServer();
    const { port } = await proxy.listen('127.0.0.1', 0);
    cleanups.push(() => proxy.close());
    const dir = await mkdtemp(path.join(os.tmpdir(), 'luma-outcomes-'));
    const server = new ManagementServer(proxy, silentLogger());
    await server.listen(path.join(dir, 'proxy.sock'));
    const client = new ManagementClient({ socketPath: path.join(dir, 'proxy.sock') });
    cleanups.push(async () => {
      client.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    });
    await client.connect();
    await client.deploy({ service: 'web', hosts: ['web.localhost'], targets: [await backend()], revision: 'web-3' });
    await get(port, 'web.localhost', '/fail');
    expect(await client.revisionOutcomes()).toMatchObject({ 'web-3': { requests: 1, errors: 1 } });
  });
});
