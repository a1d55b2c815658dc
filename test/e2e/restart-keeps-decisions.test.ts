import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProjectObject } from '../../src/model/types.js';
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
  apiFetch,
  CRASHING_COMMAND,
  eventually,
  projectManifest,
  request,
  runCli,
  startLuma,
  tempDir,
  writeConfig,
  type ApiEndpoint,
} from '../support/luma.js';
import { startController, startProxy, type ControllerProcess, type ProxyProcess } from '../support/proxy.js';

// Decisions the controller must not lose when it is SIGKILLed and started again: a crash
// loop's backoff continues where it was (no burst of restarts), and a project stopped to
// make room for another stays stopped until a request comes for it. Both live in status.

async function getProject(api: ApiEndpoint, name: string): Promise<ProjectObject> {
  const result = await runCli(['get', 'project', name, '-o', 'json'], { api });
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as ProjectObject;
}

/** Start events the engine saw for the instance's containers of a project between two times (ms). */
async function startsBetween(instance: string, name: string, since: number, until: number): Promise<number> {
  const stream = await docker.getEvents({
    since: Math.floor(since / 1000),
    until: Math.ceil(until / 1000),
    filters: {
      type: ['container'],
      event: ['start'],
      label: [`luma.dev/instance=${instance}`, `luma.dev/name=${name}`],
    },
  });
  let text = '';
  for await (const chunk of stream as AsyncIterable<Buffer>) text += chunk.toString();
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { timeNano: number })
    .filter((event) => event.timeNano / 1e6 >= since && event.timeNano / 1e6 < until).length;
}

describe('a SIGKILLed `luma up` restarted during a crash loop', () => {
  const instance = testInstance('restart-loop');
  let dir: string;

  beforeAll(async () => {
    await buildTestImage();
    dir = await tempDir('restart-loop');
  });

  afterAll(async () => {
    await removeInstanceContainers(instance);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('keeps backing off: no start before the recorded retry time, and the count goes on', async () => {
    const manifests = path.join(dir, 'manifests');
    await mkdir(manifests);
    const manifest = { image: TEST_IMAGE, hostnames: ['loops.localhost'], minInstances: 1, command: CRASHING_COMMAND };
    await writeFile(path.join(manifests, 'loops.yaml'), projectManifest('loops', manifest));
    const config = await writeConfig(dir, { resyncInterval: '1s', stopTimeout: '1s' });
    const options = { stateDir: path.join(dir, 'state'), manifests, instance, config };
    const first = await startLuma(options);
    // Four crashes in a row: the next start is 8 s after the fourth.
    const loop = await eventually(
      async () => {
        const crashLoop = (await getProject(first.api, 'loops')).status?.crashLoop;
        return crashLoop && crashLoop.crashes >= 4 && Date.parse(crashLoop.retryAt) - Date.now() > 4_000
          ? crashLoop
          : undefined;
      },
      60_000,
      'four crashes in a row, backing off',
    );
    const killedAt = Date.now();
    await first.kill();

    const second = await startLuma(options);
    try {
      const retryAt = Date.parse(loop.retryAt);
      const after = await eventually(
        async () => {
          const crashLoop = (await getProject(second.api, 'loops')).status?.crashLoop;
          return crashLoop && crashLoop.crashes > loop.crashes ? crashLoop : undefined;
        },
        60_000,
        'the next crash after the restart',
      );
      // The count went on (a forgetful controller would start over at 1 and retry within a second).
      expect(after.crashes).toBe(loop.crashes + 1);
      expect(await startsBetween(instance, 'loops', killedAt, retryAt - 100)).toBe(0);
      expect(await startsBetween(instance, 'loops', retryAt - 100, Date.now() + 1_000)).toBeGreaterThanOrEqual(1);
    } finally {
      await second.stop();
    }
  }, 180_000);
});

describe('a SIGKILLed `luma controller` restarted after an eviction for memory', () => {
  const instance = testInstance('restart-evict');
  let dir: string;
  let proxy: ProxyProcess | undefined;
  let controller: ControllerProcess | undefined;

  beforeAll(async () => {
    await buildTestImage();
    dir = await tempDir('restart-evict');
  });

  afterAll(async () => {
    await controller?.stop();
    await proxy?.stop();
    await removeInstanceContainers(instance);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function running(name: string): Promise<number> {
    return (await runningContainersOf(instance, name)).length;
  }

  it('leaves the evicted project stopped, though the proxy still remembers its recent requests, until a request comes', async () => {
    const stateDir = path.join(dir, 'state');
    const manifests = path.join(dir, 'manifests');
    await mkdir(manifests);
    for (const name of ['first', 'second', 'third']) {
      const spec = { image: TEST_IMAGE, hostnames: [`${name}.localhost`], idleTimeout: '10m' };
      await writeFile(
        path.join(manifests, `${name}.yaml`),
        projectManifest(name, { ...spec, resources: { cpu: '250m', memory: '64Mi' } }),
      );
    }
    const config = await writeConfig(dir, {
      resyncInterval: '1s',
      stopTimeout: '1s',
      admission: '{ memoryLimit: 150Mi }',
    });
    // The proxy outlives the controller, and with it the activity that would start `first` again.
    proxy = await startProxy({ stateDir });
    const controllerOptions = { stateDir, manifests, proxyPort: proxy.port, instance, config };
    controller = await startController(controllerOptions);

    expect((await request(proxy.port, 'first.localhost')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await request(proxy.port, 'second.localhost')).status).toBe(200);
    // No room for a third: `first`, used longest ago, is stopped for it.
    expect((await request(proxy.port, 'third.localhost')).status).toBe(200);
    await eventually(async () => ((await running('first')) === 0 ? true : undefined), 20_000, 'first evicted');
    const evictedAt = (await getProject(controller.api, 'first')).status?.evictedAt;
    expect(evictedAt).toBeDefined();

    await controller.kill();
    controller = await startController(controllerOptions);
    // Several resyncs: each would start `first` again if the eviction had been forgotten.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(await running('first')).toBe(0);
    expect((await getProject(controller.api, 'first')).status?.evictedAt).toBe(evictedAt);
    const events = (await (await apiFetch(controller.api, '/api/v1alpha1/events')).json()) as {
      items: Array<{ reason: string; object: { name: string } }>;
    };
    expect(events.items.filter((event) => event.reason === 'DriftDetected')).toEqual([]);

    // A request for it starts it (making room again) and clears the mark.
    expect((await request(proxy.port, 'first.localhost')).status).toBe(200);
    expect(await running('first')).toBe(1);
    await eventually(
      async () => ((await getProject(controller!.api, 'first')).status?.evictedAt === undefined ? true : undefined),
      10_000,
      'the eviction mark cleared',
    );
    expect((await containersOf(instance, 'first')).length).toBeGreaterThanOrEqual(1);
  }, 180_000);
});
