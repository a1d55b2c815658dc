import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManagementClient } from '../../../src/proxy/management-client.js';
import { ManagementServer } from '../../../src/proxy/management-server.js';
import { silentLogger } from '../../../src/util/logger.js';
import { FakeProxy } from '../../support/fakes/fake-proxy.js';

// The events a proxy daemon sends its subscribed controller over the management socket.

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('management events', () => {
  it('delivers wake and certificate events to a subscribed client, each to its own hook', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'luma-mgmt-'));
    const socketPath = path.join(dir, 'proxy.sock');
    const server = new ManagementServer(new FakeProxy(), silentLogger());
    await server.listen(socketPath);
    const received: string[] = [];
    const client = new ManagementClient({
      socketPath,
      hooks: {
        wake: (service) => received.push(`wake ${service}`),
        certificateChanged: (service) => received.push(`certificate ${service}`),
      },
    });
    cleanups.push(async () => {
      client.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    });
    await client.connect();
    // A reply to a later request proves the subscription (sent first) is in place.
    await client.listServices();
    server.certificateChanged('web');
    server.wake('api');
    await client.listServices();
    expect(received).toEqual(['certificate web', 'wake api']);
  });
});

describe('preconnect over the management socket', () => {
  it('reaches the proxy behind the socket, and a target that is not a string is refused by name', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'luma-mgmt-'));
    const socketPath = path.join(dir, 'proxy.sock');
    const proxy = new FakeProxy();
    const server = new ManagementServer(proxy, silentLogger());
    await server.listen(socketPath);
    const client = new ManagementClient({ socketPath });
    cleanups.push(async () => {
      client.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    });
    await client.connect();
    await client.preconnect('127.0.0.1:49152');
    expect(proxy.preconnects).toEqual(['127.0.0.1:49152']);

    const reply = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(socketPath, () => socket.write('{"id":7,"type":"preconnect","target":5}\n'));
      socket.setEncoding('utf8');
      socket.once('data', (line: string) => {
        socket.destroy();
        resolve(line);
      });
      socket.once('error', reject);
    });
    expect(JSON.parse(reply)).toMatchObject({
      id: 7,
      ok: false,
      error: { message: expect.stringContaining('target') },
    });
    expect(proxy.preconnects).toEqual(['127.0.0.1:49152']);
  });
});
