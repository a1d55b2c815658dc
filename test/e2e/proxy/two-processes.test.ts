import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../../../src/proxy/management.js';
import {
  buildTestImage,
  containersOf,
  removeInstanceContainers,
  runningContainersOf,
  TEST_IMAGE,
  testInstance,
} from '../../support/docker.js';
import { eventually, projectManifest, request, runCli, tempDir, writeConfig } from '../../support/luma.js';
import {
  proxyCli,
  startController,
  startProxy,
  type ControllerProcess,
  type ProxyProcess,
} from '../../support/proxy.js';

// The split deployment: `luma proxy run` and `luma controller` as two processes sharing a
// state directory. Either may crash (SIGKILL) without taking the other's work down: a
// restarted proxy serves its saved routes at once and the controller reconnects to it;
// a dead controller leaves running projects answering.

const HELLO = 'hello from the test app\n';

describe('`luma proxy run` and `luma controller` as two processes', () => {
  const instance = testInstance('split');
  let dir: string;
  let stateDir: string;
  let manifests: string;
  let config: string;
  let proxy: ProxyProcess | undefined;
  let controller: ControllerProcess | undefined;

  beforeAll(async () => {
    await buildTestImage();
    dir = await tempDir('split');
    stateDir = path.join(dir, 'state');
    manifests = path.join(dir, 'manifests');
    await mkdir(manifests);
    config = await writeConfig(dir, { resyncInterval: '1s', stopTimeout: '2s' });
    proxy = await startProxy({ stateDir });
    // At info level the controller logs its reconnection to the proxy.
    controller = await startController({
      stateDir,
      manifests,
      proxyPort: proxy.port,
      instance,
      config,
      env: { LUMA_LOG_LEVEL: 'info' },
    });
  });

  afterAll(async () => {
    controller?.child.kill('SIGCONT');
    await controller?.stop();
    await proxy?.stop();
    await removeInstanceContainers(instance);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function apply(name: string, spec: { minInstances?: number; idleTimeout?: string }): Promise<void> {
    const file = path.join(dir, `${name}.yaml`);
    await writeFile(file, projectManifest(name, { image: TEST_IMAGE, hostnames: [`${name}.localhost`], ...spec }));
    const result = await runCli(['apply', '-f', file], { api: controller!.api });
    expect(result.code, result.stderr).toBe(0);
  }

  async function routedService(name: string): Promise<ServiceInfo | undefined> {
    const result = await proxyCli(['get-service', name, '--state-dir', stateDir]);
    return result.code === 0 ? (JSON.parse(result.stdout) as ServiceInfo) : undefined;
  }

  it('survives a proxy crash and a controller crash', async () => {
    // A warm project (always one instance) and a cold one (scale to zero, 1 s idle).
    await apply('warm', { minInstances: 1 });
    await apply('cold', { idleTimeout: '1s' });
    await eventually(
      async () => (await runningContainersOf(instance, 'warm')).length === 1,
      20_000,
      'the warm container running',
    );
    await eventually(
      async () => ((await routedService('warm'))?.targets.length ?? 0) === 1,
      10_000,
      'the warm route deployed to the proxy',
    );
    expect(await runningContainersOf(instance, 'cold')).toHaveLength(0);

    const warm = await request(proxy!.port, 'warm.localhost');
    expect(warm.status).toBe(200);
    expect(warm.body).toBe(HELLO);
    const cold = await request(proxy!.port, 'cold.localhost');
    expect(cold.status).toBe(200);
    expect(cold.body).toBe(HELLO);
    expect(await runningContainersOf(instance, 'cold')).toHaveLength(1);

    // Let the cold project idle back to zero, so that after the proxy's restart it has to
    // be woken through the (reconnected) controller.
    await eventually(
      async () => (await runningContainersOf(instance, 'cold')).length === 0,
      15_000,
      'the cold project idled to zero',
    );
    await eventually(
      async () => (await routedService('cold'))?.targets.length === 0,
      5_000,
      'the cold route without targets',
    );

    // The proxy crashes and comes back on the same port and state directory. The controller
    // is frozen (SIGSTOP) meanwhile, so whatever the new proxy serves comes from its saved
    // routes, not from a re-deploy.
    const port = proxy!.port;
    controller!.child.kill('SIGSTOP');
    expect(await proxy!.kill()).toBeNull();
    proxy = await startProxy({ stateDir, port });
    expect(proxy.port).toBe(port);
    expect(proxy.restored).toBe(2);
    expect(proxy.output()).toContain('2 route(s) restored');
    const warmAfterRestart = await request(port, 'warm.localhost');
    expect(warmAfterRestart.status).toBe(200);
    expect(warmAfterRestart.body).toBe(HELLO);
    expect(controller!.output()).not.toContain('reconnected to the proxy');
    controller!.child.kill('SIGCONT');

    // The cold project still cold-starts: the proxy's wake reaches the reconnected controller.
    const coldAfterRestart = await request(port, 'cold.localhost');
    expect(coldAfterRestart.status).toBe(200);
    expect(coldAfterRestart.body).toBe(HELLO);
    expect(await runningContainersOf(instance, 'cold')).toHaveLength(1);
    expect(await containersOf(instance, 'cold')).toHaveLength(1);
    expect(await containersOf(instance, 'warm')).toHaveLength(1);
    await eventually(
      async () => controller!.output().includes('reconnected to the proxy; re-deploying every route'),
      5_000,
      'the controller to log its reconnection',
    );

    // The controller crashes: the proxy keeps serving the running warm project.
    expect(await controller!.kill()).toBeNull();
    controller = undefined;
    for (let i = 0; i < 5; i++) {
      const answer = await request(port, 'warm.localhost');
      expect(answer.status).toBe(200);
      expect(answer.body).toBe(HELLO);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(await runningContainersOf(instance, 'warm')).toHaveLength(1);
  });
});
