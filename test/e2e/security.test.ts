import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTestImage,
  containersOf,
  docker,
  removeInstanceContainers,
  runningContainersOf,
  TEST_IMAGE,
  testInstance,
} from '../support/docker.js';
import {
  Api,
  httpdContext,
  imageManifest,
  readyCondition,
  removeInstanceImages,
  uniqueName,
} from '../support/images.js';
import {
  eventually,
  projectManifest,
  request,
  runCli,
  startLuma,
  tempDir,
  writeConfig,
  type LumaProcess,
} from '../support/luma.js';

// Security by default, seen from outside: what `docker inspect` says about a container
// Luma started, and what Luma's own logs never say. (The management socket's mode 0600 is
// shown in test/e2e/proxy/client-mode.test.ts; the API token in api-token.test.ts.)

const SECRET = 'sesame-7f3a9c2e41';

describe('security defaults of managed containers', () => {
  const instance = testInstance('sec');
  let luma: LumaProcess;
  let dir: string;

  beforeAll(async () => {
    await buildTestImage();
    dir = await tempDir('sec');
    await mkdir(path.join(dir, 'manifests'));
    // From the watched directory: its files are read, parsed and logged about at start.
    await writeFile(
      path.join(dir, 'manifests', 'locked.yaml'),
      projectManifest('locked', {
        image: TEST_IMAGE,
        hostnames: ['locked.localhost'],
        env: { DB_PASSWORD: SECRET },
        resources: { cpu: '250m', memory: '48Mi' },
      }),
    );
    const config = await writeConfig(dir, { resyncInterval: '1s', stopTimeout: '1s' });
    // The most talkative level: nothing Luma says may carry an env value.
    luma = await startLuma({
      stateDir: path.join(dir, 'state'),
      manifests: path.join(dir, 'manifests'),
      instance,
      config,
      env: { LUMA_LOG_LEVEL: 'trace' },
    });
  });

  afterAll(async () => {
    await luma?.stop();
    await removeInstanceContainers(instance);
    await rm(dir, { recursive: true, force: true });
  });

  it('gives a started container no-new-privileges, a PID limit, the declared CPU and memory, an init process and loopback-only ports', async () => {
    const answer = await request(luma.proxyPort, 'locked.localhost', '/cgi-bin/env');
    expect(answer.status).toBe(200);
    expect(answer.body).toContain(`DB_PASSWORD=${SECRET}`);
    const [container] = await containersOf(instance, 'locked');
    const info = await docker.getContainer(container!.Id).inspect();
    expect(info.HostConfig.SecurityOpt).toContain('no-new-privileges');
    expect(info.HostConfig.PidsLimit).toBeGreaterThan(0);
    expect(info.HostConfig.NanoCpus).toBe(250_000_000);
    expect(info.HostConfig.Memory).toBe(48 * 1024 * 1024);
    expect(info.HostConfig.MemorySwap).toBe(48 * 1024 * 1024);
    expect(info.HostConfig.Init).toBe(true);
    expect(info.HostConfig.Privileged).toBe(false);
    const bindings = Object.values(info.NetworkSettings.Ports ?? {}).flat();
    expect(bindings.length).toBeGreaterThan(0);
    for (const binding of bindings) expect(binding?.HostIp).toBe('127.0.0.1');
  });

  it('never writes an env value to its logs, whatever happens to the project', async () => {
    // A change of env (a replacement), a refused apply and a deletion, each of which Luma logs about.
    const file = path.join(dir, 'change.yaml');
    await writeFile(
      file,
      projectManifest('locked', {
        image: TEST_IMAGE,
        hostnames: ['locked.localhost'],
        env: { DB_PASSWORD: `${SECRET}-v2` },
        resources: { cpu: '250m', memory: '48Mi' },
      }),
    );
    expect((await runCli(['apply', '-f', file], { api: luma.api })).code).toBe(0);
    await eventually(
      async () => (await request(luma.proxyPort, 'locked.localhost', '/cgi-bin/env')).body.includes(`${SECRET}-v2`),
      20_000,
      'the new env served',
    );
    await writeFile(
      file,
      projectManifest('locked', {
        image: TEST_IMAGE,
        hostnames: ['locked.localhost'],
        env: { DB_PASSWORD: `${SECRET}-v3` },
        resources: { cpu: 'lots', memory: '48Mi' },
      }),
    );
    expect((await runCli(['apply', '-f', file], { api: luma.api })).code).toBe(1);
    expect((await runCli(['delete', 'project', 'locked'], { api: luma.api })).code).toBe(0);
    await eventually(
      async () => (await containersOf(instance, 'locked')).length === 0,
      15_000,
      'the containers removed',
    );

    expect(luma.output()).toContain('"level":20'); // debug lines were written: the check below saw the most Luma says
    expect(luma.output()).not.toContain(SECRET);
  });
});

const run = promisify(execFile);

/** Runs busybox in a container; resolves with its exit code and output (a failure is an answer, not an error). */
async function execIn(containerId: string, args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout } = await run('docker', ['exec', containerId, '/bin/busybox', ...args], { timeout: 15_000 });
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : -1,
      output: `${failed.stdout ?? ''}${failed.stderr ?? ''}`,
    };
  }
}

/** An HTTP GET from inside a container with busybox nc (the static busybox's wget crashes in a scratch image). */
function httpGetFrom(containerId: string, address: string): Promise<{ code: number; output: string }> {
  return execIn(containerId, [
    'sh',
    '-c',
    `printf 'GET / HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 2 ${address} 8080`,
  ]);
}

/** The effective capability set of the container's first process, from the kernel. */
async function effectiveCapabilities(containerId: string): Promise<bigint> {
  const { output } = await execIn(containerId, ['cat', '/proc/1/status']);
  const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(output);
  if (!line?.[1]) throw new Error(`no CapEff in /proc/1/status: ${output}`);
  return BigInt(`0x${line[1]}`);
}

const CAP_NET_RAW = 1n << 13n;
const CAP_MKNOD = 1n << 27n;
const CAP_SETUID = 1n << 7n;

describe('isolation and least privilege of managed containers', () => {
  const instance = testInstance('iso');
  const gate = uniqueName('gate');
  let luma: LumaProcess;
  let dir: string;

  beforeAll(async () => {
    await buildTestImage();
    dir = await tempDir('iso');
    await mkdir(path.join(dir, 'manifests'));
    // Test images and Luma's own builds are allowed; nothing else.
    const config = await writeConfig(dir, {
      resyncInterval: '1s',
      stopTimeout: '1s',
      defaultMemory: '96Mi',
      imageAllowlist: '[luma-test/**, luma/**]',
    });
    luma = await startLuma({
      stateDir: path.join(dir, 'state'),
      manifests: path.join(dir, 'manifests'),
      instance,
      config,
    });
  });

  afterAll(async () => {
    await luma?.stop();
    await removeInstanceContainers(instance);
    await removeInstanceImages(instance);
    await docker
      .getImage(`${gate}:latest`)
      .remove()
      .catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  });

  async function apply(name: string, yaml: string): Promise<{ code: number; stdout: string; stderr: string }> {
    const file = path.join(dir, `${name}.yaml`);
    await writeFile(file, yaml);
    return runCli(['apply', '-f', file], { api: luma.api });
  }

  async function runningContainer(project: string): Promise<string> {
    const [container] = await runningContainersOf(instance, project);
    if (!container) throw new Error(`no running container of ${project}`);
    return container.Id;
  }

  it("keeps one app from opening a connection to another app's container, while the proxy reaches both", async () => {
    for (const name of ['alpha', 'beta'])
      expect(
        (await apply(name, projectManifest(name, { image: TEST_IMAGE, hostnames: [`${name}.localhost`] }))).code,
      ).toBe(0);
    expect((await request(luma.proxyPort, 'alpha.localhost')).status).toBe(200);
    expect((await request(luma.proxyPort, 'beta.localhost')).status).toBe(200);
    const alpha = await runningContainer('alpha');
    const beta = await docker.getContainer(await runningContainer('beta')).inspect();
    const networks = Object.entries(beta.NetworkSettings.Networks);
    expect(networks.map(([name]) => name)).toEqual([`luma-${instance}`]);
    const betaIp = networks[0]?.[1].IPAddress;
    expect(betaIp).toMatch(/^\d+\.\d+\.\d+\.\d+$/);

    // Controls: beta answers on that address (from the host), and wget works inside alpha.
    const fromHost = await fetch(`http://${betaIp}:8080/`);
    expect(fromHost.status).toBe(200);
    const own = await httpGetFrom(alpha, '127.0.0.1');
    expect(own.output).toContain('200 OK');
    // The attempt itself: refused or timed out, never answered.
    const attempt = await httpGetFrom(alpha, betaIp ?? '');
    expect(attempt.output).not.toContain('HTTP/1.1');
    expect(attempt.code, attempt.output).not.toBe(0);
    // And through the proxy both still answer.
    expect((await request(luma.proxyPort, 'beta.localhost')).status).toBe(200);
  });

  it('drops every capability but the kept few, gives the default memory limit, and keeps a capability a project adds back', async () => {
    expect(
      (
        await apply(
          'pinger',
          projectManifest('pinger', {
            image: TEST_IMAGE,
            hostnames: ['pinger.localhost'],
            addCapabilities: ['NET_RAW'],
          }),
        )
      ).code,
    ).toBe(0);
    expect((await request(luma.proxyPort, 'pinger.localhost')).status).toBe(200);
    expect((await request(luma.proxyPort, 'alpha.localhost')).status).toBe(200);

    const plain = await docker.getContainer(await runningContainer('alpha')).inspect();
    expect(plain.HostConfig.CapDrop).toEqual(['ALL']);
    expect(plain.HostConfig.CapAdd).toEqual([
      'CHOWN',
      'DAC_OVERRIDE',
      'FOWNER',
      'KILL',
      'NET_BIND_SERVICE',
      'SETGID',
      'SETUID',
    ]);
    // alpha declares no resources: the operator's defaultMemory (96Mi), no swap.
    expect(plain.HostConfig.Memory).toBe(96 * 2 ** 20);
    expect(plain.HostConfig.MemorySwap).toBe(96 * 2 ** 20);
    expect(plain.Config.Labels['luma.dev/memory']).toBe(String(96 * 2 ** 20));
    const plainCaps = await effectiveCapabilities(plain.Id);
    expect(plainCaps & CAP_SETUID).toBe(CAP_SETUID);
    expect(plainCaps & CAP_NET_RAW).toBe(0n);
    expect(plainCaps & CAP_MKNOD).toBe(0n);

    const pinger = await docker.getContainer(await runningContainer('pinger')).inspect();
    expect(pinger.HostConfig.CapAdd).toContain('NET_RAW');
    expect((await effectiveCapabilities(pinger.Id)) & CAP_NET_RAW).toBe(CAP_NET_RAW);
  });

  it('refuses an unknown capability when applied, naming the field', async () => {
    const result = await apply(
      'typo',
      projectManifest('typo', { image: TEST_IMAGE, hostnames: ['typo.localhost'], addCapabilities: ['NET_RAWW'] }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /spec\.securityContext\.capabilities\.add\[0\]: expected one of .*got string "NET_RAWW"/,
    );
  });

  it('does not start a project whose Image was deleted and whose name the allowlist then refuses, and says why', async () => {
    const site = await httpdContext(path.join(dir, 'site'), 'built\n');
    const manifest = `${imageManifest(gate, { context: site })}---\n${projectManifest(gate, { image: gate, hostnames: ['gate.localhost'], idleTimeout: '60s' })}`;
    expect((await apply('gate', manifest)).code).toBe(0);
    await eventually(
      async () => (await request(luma.proxyPort, 'gate.localhost')).body === 'built\n',
      60_000,
      'the built image served',
    );
    // A local image that bears the name: what the project would run once its Image is gone.
    await run('docker', ['tag', TEST_IMAGE, `${gate}:latest`]);

    expect((await runCli(['delete', 'image', gate], { api: luma.api })).code).toBe(0);
    const api = new Api(luma.api);
    const ready = await eventually(
      async () => {
        const condition = readyCondition(await api.project(gate));
        return condition?.reason === 'ImageNotAllowed' ? condition : undefined;
      },
      20_000,
      'Ready=False ImageNotAllowed',
    );
    expect(ready.status).toBe('False');
    expect(ready.message).toContain(`image "${gate}" is not allowed`);
    expect(ready.message).toContain('imageAllowlist [luma-test/**, luma/**]');
    const answer = await request(luma.proxyPort, 'gate.localhost');
    expect(answer.status).toBe(503);
    expect(answer.body).toContain('is not allowed');
    expect(await runningContainersOf(instance, gate)).toEqual([]);
    const made = await containersOf(instance, gate);
    expect(made.filter((container) => container.Image === gate || container.Image === `${gate}:latest`)).toEqual([]);
  });

  it("refuses a lease whose hostname a project declares, and a project declaring a live lease's hostname", async () => {
    expect(
      (await apply('shop', projectManifest('shop', { image: TEST_IMAGE, hostnames: ['shop.alpha.localhost'] }))).code,
    ).toBe(0);
    const lease = [
      'apiVersion: luma.dev/v1alpha1',
      'kind: Lease',
      'metadata:',
      '  name: shop',
      'spec:',
      '  project: alpha',
      '  ttl: 5m',
      '',
    ].join('\n');
    const refused = await apply('lease-shop', lease);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'metadata.name: this lease would be reached at "shop.alpha.localhost", a hostname project "shop" declares',
    );

    const trial = await apply('lease-trial', lease.replace('name: shop', 'name: trial'));
    expect(trial.code, trial.stderr).toBe(0);
    const grab = await apply(
      'grab',
      projectManifest('grab', { image: TEST_IMAGE, hostnames: ['trial.alpha.localhost'] }),
    );
    expect(grab.code).toBe(1);
    expect(grab.stderr).toContain(
      'spec.hostnames[0]: hostname "trial.alpha.localhost" is where lease "trial" of project "alpha" is reached',
    );
  });
});
