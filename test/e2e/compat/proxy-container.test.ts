import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../../../src/proxy/management.js';
import { buildTestImage, testInstance, TEST_IMAGE } from '../../support/docker.js';
import { eventually, request } from '../../support/luma.js';
import {
  buildProxyImage,
  dockerCli,
  dockerExec,
  INSTANCE_LABEL,
  publishedPort,
  removeProxyRun,
  type ExecResult,
} from '../../support/proxy-container.js';

// Seed 001 (Luma Proxy): the daemon as a container from `make proxy-image`, steered with
// `docker exec <container> luma-proxy …` as the seed's document does. The backend is the
// busybox test app on a user-defined network, reached by its network alias; the proxy
// publishes its port on 127.0.0.1 only. Its routes live in a volume and survive a restart.

const HOST = 'app.example.com';

function expectOk(result: ExecResult): string {
  expect(result.code, result.stderr).toBe(0);
  return result.stdout;
}

describe('compat: Luma Proxy as a container, steered with docker exec', () => {
  const instance = testInstance('compat-proxy-ctr');
  const label = `${INSTANCE_LABEL}=${instance}`;
  const proxy = `${instance}-proxy`;
  let image: string;
  let port: number;
  let socketDir: string | undefined;

  async function listServices(container: string, extra: string[] = []): Promise<ServiceInfo[]> {
    const out = expectOk(await dockerExec(container, ['luma-proxy', 'list-services', '-o', 'json', ...extra]));
    return JSON.parse(out) as ServiceInfo[];
  }

  /** The daemon answers on its socket once it has restored its routes. */
  async function waitForDaemon(container: string, extra: string[] = []): Promise<void> {
    await eventually(
      async () => (await dockerExec(container, ['luma-proxy', 'list-services', ...extra])).code === 0,
      30_000,
      `${container}'s management socket`,
    );
  }

  beforeAll(async () => {
    [image] = await Promise.all([buildProxyImage(instance), buildTestImage()]);
    await dockerCli(['network', 'create', '--label', label, instance]);
    await dockerCli(['volume', 'create', '--label', label, `${instance}-state`]);
    await dockerCli(
      ['run', '-d', '--name', `${instance}-backend`, '--label', label, '--network', instance].concat([
        '--network-alias',
        'backend',
        TEST_IMAGE,
      ]),
    );
    // The documented line (docs/compat.md), with the public port on loopback only.
    await dockerCli(
      ['run', '-d', '--name', proxy, '--label', label, '--network', instance, '--restart', 'unless-stopped'].concat([
        '-p',
        '127.0.0.1::80',
        '-v',
        `${instance}-state:/var/lib/luma-proxy`,
        image,
      ]),
    );
    port = await publishedPort(proxy, 80);
    await waitForDaemon(proxy);
  });

  afterAll(async () => {
    await removeProxyRun(instance);
    if (socketDir) await rm(socketDir, { recursive: true, force: true });
  });

  it('deploys a route with docker exec … luma-proxy deploy and serves it on the published port', async () => {
    const out = expectOk(
      await dockerExec(proxy, ['luma-proxy', 'deploy', 'my-app', '--host', HOST, '--target', 'backend:8080']),
    );
    expect(out).toContain('deployed my-app');
    const answer = await request(port, HOST);
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('hello from the test app');
    expect(await listServices(proxy)).toMatchObject([
      { service: 'my-app', hosts: [HOST], targets: [{ address: 'backend:8080' }] },
    ]);
    const shown = JSON.parse(expectOk(await dockerExec(proxy, ['luma-proxy', 'get-service', 'my-app']))) as ServiceInfo;
    expect(shown).toMatchObject({ service: 'my-app', hosts: [HOST] });
  });

  it('keeps the route across a restart of the container: it is in the volume', async () => {
    await dockerCli(['restart', proxy]);
    port = await publishedPort(proxy, 80);
    await waitForDaemon(proxy);
    expect((await listServices(proxy)).map((service) => service.service)).toEqual(['my-app']);
    const answer = await eventually(async () => {
      const got = await request(port, HOST);
      return got.status === 200 ? got : undefined;
    });
    expect(answer.body).toContain('hello from the test app');
  });

  it('removes the route: the host is no longer served, and the list is empty', async () => {
    expectOk(await dockerExec(proxy, ['luma-proxy', 'remove', 'my-app']));
    expect(await listServices(proxy)).toEqual([]);
    expect((await request(port, HOST)).status).toBe(404);
  });

  it('refuses a bad deploy with a one-line error and a failing exit code', async () => {
    const result = await dockerExec(proxy, ['luma-proxy', 'deploy', 'my-app', '--target', 'backend:8080']);
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim()).toBe('error: deploy needs at least one --host');
    expect(await listServices(proxy)).toEqual([]);
  });

  it("runs the seed's own lines: -v /tmp-style socket directory and ./luma-proxy … --socket-path", async () => {
    socketDir = await mkdtemp(path.join(os.tmpdir(), 'luma-proxy-socket-'));
    const seedProxy = `${instance}-seed`;
    await dockerCli(
      ['run', '-d', '--name', seedProxy, '--label', label, '--network', instance, '-v', `${socketDir}:/tmp`].concat([
        '-p',
        '127.0.0.1::80',
        image,
        'run',
        '--socket-path',
        '/tmp/luma-proxy.sock',
      ]),
    );
    const socketFlag = ['--socket-path', '/tmp/luma-proxy.sock'];
    await waitForDaemon(seedProxy, socketFlag);
    expectOk(
      await dockerExec(
        seedProxy,
        ['./luma-proxy', 'deploy', 'my-app', '--host', HOST, '--target', 'backend:8080'].concat(socketFlag),
      ),
    );
    expect(expectOk(await dockerExec(seedProxy, ['./luma-proxy', 'list-services', ...socketFlag]))).toContain(
      'backend:8080',
    );
    // The seed's own spelling of the TLS flag, as its document writes it.
    expectOk(
      await dockerExec(
        seedProxy,
        [
          './luma-proxy',
          'deploy',
          'my-tls-app',
          '--host',
          'tls.example.test',
          '--target',
          'backend:8080',
          '--ssl',
        ].concat(socketFlag),
      ),
    );
    const shown = JSON.parse(
      expectOk(await dockerExec(seedProxy, ['./luma-proxy', 'get-service', 'my-tls-app', ...socketFlag])),
    ) as { tls: boolean };
    expect(shown.tls).toBe(true);
    const answer = await request(await publishedPort(seedProxy, 80), HOST);
    expect(answer.body).toContain('hello from the test app');
  });
});
