import { mkdtemp, rm } from 'node:fs/promises';
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
      hooks: { wake: (service) => received.push(`wake ${service}`), certificateChanged: (service) => received.push(`certificate ${service}`) },
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
