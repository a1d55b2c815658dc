import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProjectObject } from '../../src/model/types.js';
import { buildTestImage, TEST_IMAGE, testInstance } from '../support/docker.js';
import { readyCondition } from '../support/images.js';
import {
  apiFetch,
  eventually,
  projectManifest,
  request,
  startLuma,
  tempDir,
  writeConfig,
  type HttpAnswer,
  type LumaProcess,
} from '../support/luma.js';
import { startPrivateDocker, type PrivateDocker } from '../support/private-docker.js';

// The Docker engine dies under traffic and comes back. It is a private dockerd of this
// test's own (never the machine's shared one): Luma says the engine is down (/healthz, a
// condition, its log), answers cold requests with 503 and the reason meanwhile, and
// reconnects and reconciles when the engine is back.

describe('a Docker engine restart under traffic', () => {
  const instance = testInstance('engine');
  let engine: PrivateDocker;
  let luma: LumaProcess;
  let dir: string;

  beforeAll(async () => {
    await buildTestImage();
    engine = await startPrivateDocker();
    dir = await tempDir('engine');
    const manifests = path.join(dir, 'manifests');
    await mkdir(manifests);
    await writeFile(
      path.join(manifests, 'busy.yaml'),
      projectManifest('busy', { image: TEST_IMAGE, hostnames: ['busy.localhost'] }),
    );
    await writeFile(
      path.join(manifests, 'sleepy.yaml'),
      projectManifest('sleepy', { image: TEST_IMAGE, hostnames: ['sleepy.localhost'] }),
    );
    const config = await writeConfig(dir, { resyncInterval: '1s', stopTimeout: '1s' });
    luma = await startLuma({
      stateDir: path.join(dir, 'state'),
      manifests,
      instance,
      config,
      env: { DOCKER_HOST: engine.host, LUMA_LOG_LEVEL: 'info' },
    });
  }, 120_000);

  afterAll(async () => {
    await luma?.stop();
    await engine?.remove();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  async function health(): Promise<{
    status: number;
    body: { status: string; docker: { reachable: boolean; error?: string } };
  }> {
    const response = await fetch(new URL('/healthz', luma.server));
    return {
      status: response.status,
      body: (await response.json()) as { status: string; docker: { reachable: boolean; error?: string } },
    };
  }

  async function project(name: string): Promise<ProjectObject> {
    return (await (await apiFetch(luma.api, `/api/v1alpha1/projects/${name}`)).json()) as ProjectObject;
  }

  it('reports the engine down, answers cold requests 503 with the reason, and recovers when it is back', async () => {
    expect((await request(luma.proxyPort, 'busy.localhost')).status).toBe(200);

    // Traffic all along: one request after another to the warm project.
    const answers: Array<HttpAnswer | Error> = [];
    let traffic = true;
    const trafficDone = (async () => {
      while (traffic) {
        answers.push(await request(luma.proxyPort, 'busy.localhost', '/', 10_000).catch((error: Error) => error));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();

    await engine.kill();

    const down = await eventually(
      async () => {
        const report = await health();
        return report.status === 503 ? report : undefined;
      },
      20_000,
      '/healthz to say the engine is down',
    );
    expect(down.body).toMatchObject({ status: 'degraded', docker: { reachable: false } });
    expect(down.body.docker.error).toContain(`cannot reach the Docker engine at ${engine.host}`);
    await eventually(
      async () => luma.output().includes('Docker engine unreachable; cold requests get 503 until it is back'),
      10_000,
      'the outage in the log',
    );

    // A cold project cannot start: 503 at once with the reason, not a request held until startupTimeout.
    const cold = await request(luma.proxyPort, 'sleepy.localhost', '/', 15_000);
    expect(cold.status).toBe(503);
    expect(cold.body).toContain(
      'the Docker engine is unreachable, so sleepy cannot be started; Luma starts it once the engine is back',
    );
    expect(cold.headers['retry-after']).toBeDefined();
    // Written right after the route, which answered the request above.
    const condition = await eventually(
      async () => {
        const ready = readyCondition(await project('sleepy'));
        return ready?.reason === 'DockerUnavailable' ? ready : undefined;
      },
      10_000,
      'Ready=False DockerUnavailable on the cold project',
    );
    expect(condition).toMatchObject({
      status: 'False',
      message: expect.stringContaining(`cannot reach the Docker engine at ${engine.host}`),
    });

    await engine.start();

    await eventually(async () => (await health()).status === 200, 30_000, '/healthz to say the engine is back');
    await eventually(
      async () => luma.output().includes('Docker engine reachable again; reconciling everything'),
      10_000,
      'the return in the log',
    );
    // Reconciled: the cold project starts on a request, the busy one serves again.
    const woken = await eventually(
      async () => {
        const answer = await request(luma.proxyPort, 'sleepy.localhost', '/', 15_000);
        return answer.status === 200 ? answer : undefined;
      },
      30_000,
      'the cold project to start after the engine came back',
    );
    expect(woken.body).toBe('hello from the test app\n');
    await eventually(
      async () => (await request(luma.proxyPort, 'busy.localhost', '/', 15_000)).status === 200,
      30_000,
      'the busy project to serve again',
    );
    await eventually(
      async () => readyCondition(await project('sleepy'))?.reason === 'Running',
      15_000,
      'sleepy Ready again',
    );

    traffic = false;
    await trafficDone;
    // Every request got an answer (none hung past its timeout), and the last ones were served.
    const failures = answers.filter((answer): answer is Error => answer instanceof Error);
    expect(failures.map((error) => error.message)).toEqual([]);
    expect(answers.every((answer) => !(answer instanceof Error) && [200, 502, 503].includes(answer.status))).toBe(true);

    // One container per project on the engine: nothing started twice across the outage.
    const containers = await engine.client.listContainers({
      all: true,
      filters: { label: [`luma.dev/instance=${instance}`] },
    });
    const running = containers.filter((container) => container.State === 'running');
    expect(running.filter((container) => container.Labels['luma.dev/name'] === 'busy').length).toBeLessThanOrEqual(1);
    expect(running.filter((container) => container.Labels['luma.dev/name'] === 'sleepy')).toHaveLength(1);
  });
});
