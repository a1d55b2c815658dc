import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../../../src/proxy/management.js';
import { eventually, request, tempDir } from '../../support/luma.js';
import { proxyCli, startBackend, startProxy, type Backend, type ProxyProcess } from '../../support/proxy.js';

// The proxy's client mode against a real `luma proxy run`: deploy, list, inspect, move
// traffic, refuse an unhealthy target, remove; and the errors a user sees when the
// daemon is not there. Backends are plain Node servers that Luma does not manage.

function backendNamed(name: string, options: { healthStatus?: number } = {}): Promise<Backend> {
  return startBackend((req, res) => {
    if (req.url === '/health') {
      res.writeHead(options.healthStatus ?? 200).end('health\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`${name} saw ${String(req.headers.host)}\n`);
  });
}

function getWithHeaders(port: number, host: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, headers: { ...headers, host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
  });
}

/** One line on stderr, starting with "error:", and no stack trace. */
function expectOneLineError(stderr: string): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: /);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe('`luma proxy` client mode against `luma proxy run`', () => {
  let dir: string;
  let proxy: ProxyProcess;
  const backends: Backend[] = [];
  let socketArgs: string[];

  beforeAll(async () => {
    dir = await tempDir('proxy-client');
    proxy = await startProxy({ stateDir: path.join(dir, 'state') });
    socketArgs = ['--state-dir', path.join(dir, 'state')];
  });

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all(backends.map((backend) => backend.close()));
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function backend(name: string, options: { healthStatus?: number } = {}): Promise<Backend> {
    const started = await backendNamed(name, options);
    backends.push(started);
    return started;
  }

  it('prints where it listens and keeps its management socket at mode 0600', async () => {
    expect(proxy.restored).toBe(0);
    expect(proxy.socketPath).toBe(path.join(dir, 'state', 'proxy', 'proxy.sock'));
    const info = await stat(proxy.socketPath);
    expect(info.isSocket()).toBe(true);
    expect(info.mode & 0o777).toBe(0o600);
    // The directory holding it is the owner's alone too.
    expect((await stat(path.dirname(proxy.socketPath))).mode & 0o077).toBe(0);
  });

  it('deploys a service, routes its Host to the backend, lists and describes it, moves traffic, and removes it', async () => {
    const one = await backend('one');
    const deployed = await proxyCli([
      'deploy',
      'web',
      '--host',
      'web.localhost',
      '--target',
      one.address,
      '--health-check-path',
      '/health',
      ...socketArgs,
    ]);
    expect(deployed.code, deployed.stderr).toBe(0);
    expect(deployed.stdout).toContain('deployed web');

    const first = await request(proxy.port, 'web.localhost');
    expect(first.status).toBe(200);
    expect(first.body).toBe('one saw web.localhost\n');

    const listed = await proxyCli(['list-services', ...socketArgs]);
    expect(listed.code, listed.stderr).toBe(0);
    const row = listed.stdout.split('\n').find((line) => line.startsWith('web '));
    expect(row, listed.stdout).toBeDefined();
    expect(row).toContain('web.localhost');
    expect(row).toContain(one.address);

    const described = await proxyCli(['get-service', 'web', ...socketArgs]);
    expect(described.code, described.stderr).toBe(0);
    const info = JSON.parse(described.stdout) as ServiceInfo;
    expect(info.service).toBe('web');
    expect(info.hosts).toEqual(['web.localhost']);
    expect(info.targets.map((target) => target.address)).toEqual([one.address]);

    // A second deploy with another target moves the traffic to it.
    const two = await backend('two');
    const redeployed = await proxyCli([
      'deploy',
      'web',
      '--host',
      'web.localhost',
      '--target',
      two.address,
      '--health-check-path',
      '/health',
      ...socketArgs,
    ]);
    expect(redeployed.code, redeployed.stderr).toBe(0);
    for (let i = 0; i < 3; i++)
      expect((await request(proxy.port, 'web.localhost')).body).toBe('two saw web.localhost\n');
    const after = JSON.parse((await proxyCli(['get-service', 'web', ...socketArgs])).stdout) as ServiceInfo;
    expect(after.targets.map((target) => target.address)).toEqual([two.address]);

    const removed = await proxyCli(['remove', 'web', ...socketArgs]);
    expect(removed.code, removed.stderr).toBe(0);
    const gone = await request(proxy.port, 'web.localhost');
    expect(gone.status).toBe(404);
    expect(gone.body).toContain('no project is routed for host "web.localhost"');
    const missing = await proxyCli(['get-service', 'web', ...socketArgs]);
    expect(missing.code).not.toBe(0);
    expectOneLineError(missing.stderr);
    expect(missing.stderr).toContain('no service named "web"');
  });

  it('refuses a deploy whose new target fails its health check, and the old target keeps serving', async () => {
    const good = await backend('good');
    const ok = await proxyCli([
      'deploy',
      'api',
      '--host',
      'api.localhost',
      '--target',
      good.address,
      '--health-check-path',
      '/health',
      ...socketArgs,
    ]);
    expect(ok.code, ok.stderr).toBe(0);

    // A backend that answers 500 on its health path.
    const sick = await backend('sick', { healthStatus: 500 });
    const started = Date.now();
    const refused = await proxyCli([
      'deploy',
      'api',
      '--host',
      'api.localhost',
      '--target',
      sick.address,
      '--health-check-path',
      '/health',
      '--deploy-timeout',
      '1s',
      ...socketArgs,
    ]);
    expect(refused.code).not.toBe(0);
    expectOneLineError(refused.stderr);
    expect(refused.stderr).toContain(`target ${sick.address} failed its health check`);
    expect(refused.stderr).toContain('HTTP 500');
    expect(Date.now() - started).toBeLessThan(10_000); // --deploy-timeout 1s, not the default 30s
    expect((await request(proxy.port, 'api.localhost')).body).toBe('good saw api.localhost\n');

    // A port nobody listens on (a backend that was started and closed again).
    const closed = await backendNamed('closed');
    await closed.close();
    const unreachable = await proxyCli([
      'deploy',
      'api',
      '--host',
      'api.localhost',
      '--target',
      closed.address,
      '--deploy-timeout',
      '1s',
      ...socketArgs,
    ]);
    expect(unreachable.code).not.toBe(0);
    expectOneLineError(unreachable.stderr);
    expect(unreachable.stderr).toContain(`target ${closed.address} failed its health check`);
    expect(unreachable.stderr).toContain('ECONNREFUSED');

    const still = await request(proxy.port, 'api.localhost');
    expect(still.status).toBe(200);
    expect(still.body).toBe('good saw api.localhost\n');
    const info = JSON.parse((await proxyCli(['get-service', 'api', ...socketArgs])).stdout) as ServiceInfo;
    expect(info.targets.map((target) => target.address)).toEqual([good.address]);
  });

  it('moves traffic at once on a re-deploy, lets the old target finish its in-flight request, and returns only then', async () => {
    let arrived!: () => void;
    const slowArrived = new Promise<void>((resolve) => (arrived = resolve));
    const old = await startBackend((req, res) => {
      if (req.url === '/slow') {
        arrived();
        setTimeout(() => res.end('old finished\n'), 1_500);
      } else res.end('old\n');
    });
    backends.push(old);
    const fresh = await backend('fresh');
    expect(
      (await proxyCli(['deploy', 'roll', '--host', 'roll.localhost', '--target', old.address, ...socketArgs])).code,
    ).toBe(0);

    let slowAnsweredAt = 0;
    const slow = request(proxy.port, 'roll.localhost', '/slow').then((answer) => {
      slowAnsweredAt = Date.now();
      return answer;
    });
    await slowArrived;
    let deployedAt = 0;
    const redeploy = proxyCli([
      'deploy',
      'roll',
      '--host',
      'roll.localhost',
      '--target',
      fresh.address,
      '--health-check-path',
      '/health',
      ...socketArgs,
    ]).then((result) => {
      deployedAt = Date.now();
      return result;
    });
    // New requests reach the new target while the old one still works on its request.
    await eventually(
      async () => (await request(proxy.port, 'roll.localhost')).body === 'fresh saw roll.localhost\n',
      5_000,
      'traffic on the new target',
    );
    expect(slowAnsweredAt).toBe(0);

    const slowAnswer = await slow;
    expect(slowAnswer.status).toBe(200);
    expect(slowAnswer.body).toBe('old finished\n');
    const redeployed = await redeploy;
    expect(redeployed.code, redeployed.stderr).toBe(0);
    expect(deployedAt).toBeGreaterThanOrEqual(slowAnsweredAt);
  });

  it("sets X-Forwarded-For/-Proto/-Host, and keeps a trusted proxy's with --forward-headers", async () => {
    const echo = await startBackend((req, res) => {
      res.end(
        JSON.stringify({
          for: req.headers['x-forwarded-for'],
          proto: req.headers['x-forwarded-proto'],
          host: req.headers['x-forwarded-host'],
        }),
      );
    });
    backends.push(echo);
    expect(
      (await proxyCli(['deploy', 'edge-plain', '--host', 'plain.localhost', '--target', echo.address, ...socketArgs]))
        .code,
    ).toBe(0);
    expect(
      (
        await proxyCli([
          'deploy',
          'edge-trusting',
          '--host',
          'trusting.localhost',
          '--target',
          echo.address,
          '--forward-headers',
          ...socketArgs,
        ])
      ).code,
    ).toBe(0);
    const spoofed = {
      'x-forwarded-for': '203.0.113.9',
      'x-forwarded-proto': 'https',
      'x-forwarded-host': 'spoofed.example',
    };

    const plain = JSON.parse(await getWithHeaders(proxy.port, 'plain.localhost', spoofed)) as Record<string, string>;
    expect(plain).toEqual({ for: '127.0.0.1', proto: 'http', host: 'plain.localhost' });
    const trusting = JSON.parse(await getWithHeaders(proxy.port, 'trusting.localhost', spoofed)) as Record<
      string,
      string
    >;
    expect(trusting).toEqual({ for: '203.0.113.9, 127.0.0.1', proto: 'https', host: 'spoofed.example' });
  });

  // BUG (src/cli/commands/proxy.ts, the deploy command): `.requiredOption('--host <host>', …,
  // collect, [])` — commander counts the [] default as "given", so a deploy without --host is
  // accepted (and management-server.ts parseDeploy accepts `hosts: []`): the service is
  // stored with no host, unreachable, and the command says "deployed". Fix: drop the []
  // default (use `.requiredOption('--host <host>', …, collect)` and treat undefined as []),
  // or throw CliError('--host: give at least one Host to route') when options.host is empty.
  // (parseDeploy accepts an empty hosts list: a revision's service is reached through its
  // project's split only.)
  it('refuses a deploy without --host with one line, and stores nothing', async () => {
    const lonely = await backend('lonely');
    const result = await proxyCli([
      'deploy',
      'lonely',
      '--target',
      lonely.address,
      '--skip-health-check',
      ...socketArgs,
    ]);
    expect(result.code).toBe(1);
    expectOneLineError(result.stderr);
    expect(result.stderr).toContain('--host');
    expect((await proxyCli(['get-service', 'lonely', ...socketArgs])).code).not.toBe(0);
  });

  it('refuses a host that another service already routes, with one line', async () => {
    const owner = await backend('owner');
    expect(
      (await proxyCli(['deploy', 'owner', '--host', 'taken.localhost', '--target', owner.address, ...socketArgs])).code,
    ).toBe(0);
    const clash = await proxyCli([
      'deploy',
      'thief',
      '--host',
      'taken.localhost',
      '--target',
      owner.address,
      ...socketArgs,
    ]);
    expect(clash.code).not.toBe(0);
    expectOneLineError(clash.stderr);
    expect(clash.stderr).toContain('already routed to service "owner"');
    expect((await request(proxy.port, 'taken.localhost')).body).toBe('owner saw taken.localhost\n');
  });

  it('works the same through the luma-proxy binary', async () => {
    const edge = await backend('edge');
    const deployed = await proxyCli(
      ['deploy', 'edge', '--host', 'edge.localhost', '--target', edge.address, ...socketArgs],
      { binary: 'luma-proxy' },
    );
    expect(deployed.code, deployed.stderr).toBe(0);
    expect((await request(proxy.port, 'edge.localhost')).body).toBe('edge saw edge.localhost\n');

    const viaLuma = await proxyCli(['list-services', '-o', 'json', ...socketArgs]);
    const viaLumaProxy = await proxyCli(['list-services', '-o', 'json', ...socketArgs], { binary: 'luma-proxy' });
    expect(viaLumaProxy.code, viaLumaProxy.stderr).toBe(0);
    const names = (JSON.parse(viaLumaProxy.stdout) as ServiceInfo[]).map((service) => service.service);
    expect(names).toContain('edge');
    expect(names).toEqual((JSON.parse(viaLuma.stdout) as ServiceInfo[]).map((service) => service.service));

    const help = await proxyCli(['--help'], { binary: 'luma-proxy' });
    expect(help.code).toBe(0);
    for (const command of ['run', 'deploy', 'remove', 'get-service', 'list-services', 'set-global-option'])
      expect(help.stdout).toContain(command);

    expect((await proxyCli(['remove', 'edge', ...socketArgs], { binary: 'luma-proxy' })).code).toBe(0);
    expect((await request(proxy.port, 'edge.localhost')).status).toBe(404);
  });
});

describe('`luma proxy` client mode without a daemon', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await tempDir('proxy-nodaemon');
  });

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('exits 1 with one line saying the proxy is not running', async () => {
    for (const command of [
      ['list-services'],
      ['get-service', 'web'],
      ['remove', 'web'],
      ['deploy', 'web', '--host', 'web.localhost', '--target', '127.0.0.1:1'],
    ]) {
      const result = await proxyCli([...command, '--state-dir', path.join(dir, 'never-started')]);
      expect(result.code, command.join(' ')).toBe(1);
      expectOneLineError(result.stderr);
      expect(result.stderr).toContain('the proxy is not running');
      expect(result.stderr).toContain(path.join(dir, 'never-started', 'proxy', 'proxy.sock'));
    }
    const viaBinary = await proxyCli(['list-services', '--state-dir', path.join(dir, 'never-started')], {
      binary: 'luma-proxy',
    });
    expect(viaBinary.code).toBe(1);
    expectOneLineError(viaBinary.stderr);
    expect(viaBinary.stderr).toContain('the proxy is not running');
  });

  it('exits 1 with one line when the socket path is a directory, a regular file, or under a regular file', async () => {
    const directory = path.join(dir, 'a-directory');
    const regular = path.join(dir, 'a-file');
    await mkdir(directory);
    await writeFile(regular, 'not a socket\n');
    for (const socketPath of [directory, regular, path.join(regular, 'proxy.sock')]) {
      const result = await proxyCli(['list-services', '--socket-path', socketPath]);
      expect(result.code, socketPath).toBe(1);
      expectOneLineError(result.stderr);
      expect(result.stderr).toContain(socketPath);
    }
  });

  // A second daemon on the same state directory is refused earlier, by its lock
  // (test/e2e/state-dir-lock.test.ts); one with its own state directory but the first
  // one's --socket-path is refused here.
  it('refuses to start a second daemon on a socket a live one answers on, with one line', async () => {
    const stateDir = path.join(dir, 'shared');
    const first = await startProxy({ stateDir });
    try {
      const second = await proxyCli([
        'run',
        '--state-dir',
        path.join(dir, 'shared-second'),
        '--socket-path',
        first.socketPath,
        '--listen',
        '127.0.0.1:0',
      ]);
      expect(second.code).toBe(1);
      expectOneLineError(
        second.stderr
          .split('\n')
          .filter((line) => !line.startsWith('{'))
          .join('\n'),
      );
      expect(second.stderr).toContain(`another proxy is already listening on ${first.socketPath}`);
      // The first one is untouched.
      expect((await request(first.port, 'x.localhost', '/luma-proxy-health')).status).toBe(200);
    } finally {
      expect(await first.stop()).toBe(0);
    }
  });

  it('runs as `luma-proxy run` and restores its routes after a restart', async () => {
    const stateDir = path.join(dir, 'restart');
    const backend = await backendNamed('kept');
    try {
      const first = await startProxy({ stateDir, binary: 'luma-proxy' });
      const deployed = await proxyCli(
        ['deploy', 'kept', '--host', 'kept.localhost', '--target', backend.address, '--state-dir', stateDir],
        { binary: 'luma-proxy' },
      );
      expect(deployed.code, deployed.stderr).toBe(0);
      expect(await first.stop()).toBe(0);

      const second = await startProxy({ stateDir, binary: 'luma-proxy' });
      try {
        expect(second.restored).toBe(1);
        expect(second.output()).toContain('1 route(s) restored');
        expect((await request(second.port, 'kept.localhost')).body).toBe('kept saw kept.localhost\n');
      } finally {
        expect(await second.stop()).toBe(0);
      }
    } finally {
      await backend.close();
    }
  });
});
