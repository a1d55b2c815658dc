import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProjectObject } from '../../src/model/types.js';
import {
  buildTestImage,
  removeInstanceContainers,
  runningContainersOf,
  TEST_IMAGE,
  testInstance,
} from '../support/docker.js';
import { readyCondition } from '../support/images.js';
import {
  apiFetch,
  eventually,
  projectManifest,
  request,
  startLuma,
  tempDir,
  writeConfig,
  type LumaProcess,
} from '../support/luma.js';

// Admission by memory on the real engine: with room for two 64Mi containers under a 150Mi
// limit, a third project's first request stops the idle instance used longest ago; while
// every instance is busy, the request is held (not refused) and status says why, until one
// is idle again.

describe('admission by memory', () => {
  const instance = testInstance('mem');
  let luma: LumaProcess;
  let dir: string;

  beforeAll(async () => {
    await buildTestImage();
    dir = await tempDir('mem');
    const manifests = path.join(dir, 'manifests');
    await mkdir(manifests);
    for (const name of ['first', 'second', 'third']) {
      // A long idle timeout: only admission may stop these during the test.
      await writeFile(
        path.join(manifests, `${name}.yaml`),
        projectManifest(name, {
          image: TEST_IMAGE,
          hostnames: [`${name}.localhost`],
          resources: { cpu: '250m', memory: '64Mi' },
          idleTimeout: '10m',
        }),
      );
    }
    const config = await writeConfig(dir, {
      resyncInterval: '1s',
      stopTimeout: '1s',
      admission: '{ memoryLimit: 150Mi }',
    });
    luma = await startLuma({ stateDir: path.join(dir, 'state'), manifests, instance, config });
  }, 120_000);

  afterAll(async () => {
    await luma?.stop();
    await removeInstanceContainers(instance);
    await rm(dir, { recursive: true, force: true });
  });

  async function running(name: string): Promise<number> {
    return (await runningContainersOf(instance, name)).length;
  }

  async function events(): Promise<Array<{ reason: string; message: string; object: { name: string } }>> {
    const body = (await (await apiFetch(luma.api, '/api/v1alpha1/events')).json()) as {
      items: Array<{ reason: string; message: string; object: { name: string } }>;
    };
    return body.items;
  }

  it('stops the least recently used idle container to start another, and holds a start while all are busy', async () => {
    expect((await request(luma.proxyPort, 'first.localhost')).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await request(luma.proxyPort, 'second.localhost')).status).toBe(200);
    expect(await running('first')).toBe(1);
    expect(await running('second')).toBe(1);

    // 3 × 64Mi > 150Mi: `first` (used longest ago, nothing in flight) is stopped for `third`.
    expect((await request(luma.proxyPort, 'third.localhost')).status).toBe(200);
    expect(await running('first')).toBe(0);
    expect(await running('second')).toBe(1);
    expect(await running('third')).toBe(1);
    const evicted = (await events()).find((event) => event.reason === 'ContainerEvicted');
    expect(evicted?.object.name).toBe('first');
    expect(evicted?.message).toContain('to make room for Project/third');

    // Both running projects busy with a slow request: `first` must wait, and says why.
    const slowSecond = request(luma.proxyPort, 'second.localhost', '/cgi-bin/slow?4');
    const slowThird = request(luma.proxyPort, 'third.localhost', '/cgi-bin/slow?4');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const startedAt = Date.now();
    const held = request(luma.proxyPort, 'first.localhost', '/', 30_000);
    const waiting = await eventually(
      async () => {
        const project = (await (await apiFetch(luma.api, '/api/v1alpha1/projects/first')).json()) as ProjectObject;
        const ready = readyCondition(project);
        return ready?.reason === 'InsufficientMemory' ? ready : undefined;
      },
      10_000,
      'Ready=False InsufficientMemory on the held project',
    );
    expect(waiting.message).toContain('not enough memory to start Project/first');
    expect(await running('first')).toBe(0);

    // Once the slow requests finish, one of them is stopped and the held request is answered.
    expect((await slowSecond).status).toBe(200);
    expect((await slowThird).status).toBe(200);
    const answer = await held;
    expect(answer.status).toBe(200);
    expect(Date.now() - startedAt).toBeGreaterThan(2_000);
    expect(await running('first')).toBe(1);
    expect((await running('second')) + (await running('third'))).toBe(1);
  }, 90_000);
});
