import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestImage, containersOf, docker, removeInstanceContainers, TEST_IMAGE, testInstance } from '../support/docker.js';
import { eventually, projectManifest, request, runCli, startLuma, tempDir, writeConfig, type LumaProcess } from '../support/luma.js';

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
      projectManifest('locked', { image: TEST_IMAGE, hostnames: ['locked.localhost'], env: { DB_PASSWORD: SECRET }, resources: { cpu: '250m', memory: '48Mi' } }),
    );
    const config = await writeConfig(dir, { resyncInterval: '1s', stopTimeout: '1s' });
    // The most talkative level: nothing Luma says may carry an env value.
    luma = await startLuma({ stateDir: path.join(dir, 'state'), manifests: path.join(dir, 'manifests'), instance, config, env: { LUMA_LOG_LEVEL: 'trace' } });
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
    await writeFile(file, projectManifest('locked', { image: TEST_IMAGE, hostnames: ['locked.localhost'], env: { DB_PASSWORD: `${SECRET}-v2` }, resources: { cpu: '250m', memory: '48Mi' } }));
    expect((await runCli(['apply', '-f', file], { api: luma.api })).code).toBe(0);
    await eventually(async () => (await request(luma.proxyPort, 'locked.localhost', '/cgi-bin/env')).body.includes(`${SECRET}-v2`), 20_000, 'the new env served');
    await writeFile(file, projectManifest('locked', { image: TEST_IMAGE, hostnames: ['locked.localhost'], env: { DB_PASSWORD: `${SECRET}-v3` }, resources: { cpu: 'lots', memory: '48Mi' } }));
    expect((await runCli(['apply', '-f', file], { api: luma.api })).code).toBe(1);
    expect((await runCli(['delete', 'project', 'locked'], { api: luma.api })).code).toBe(0);
    await eventually(async () => (await containersOf(instance, 'locked')).length === 0, 15_000, 'the containers removed');

    expect(luma.output()).toContain('"level":20'); // debug lines were written: the check below saw the most Luma says
    expect(luma.output()).not.toContain(SECRET);
  });
});
