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
  eventually,
  projectManifest,
  request,
  runCli,
  startLuma,
  tempDir,
  writeConfig,
  type LumaProcess,
} from '../support/luma.js';

// Warm projects (minInstances: 1): kept running, replaced on a spec change, removed on
// delete, adopted after a crash, and healed after someone removes a container by hand.

describe('warm projects and recovery', () => {
  const instance = testInstance('warm');
  let luma: LumaProcess;
  let dir: string;
  let config: string;
  let stateDir: string;
  let manifests: string;

  beforeAll(async () => {
    await buildTestImage();
    dir = await tempDir('warm');
    manifests = path.join(dir, 'manifests');
    stateDir = path.join(dir, 'state');
    await mkdir(manifests);
    config = await writeConfig(dir, { resyncInterval: '1s', stopTimeout: '2s' });
    luma = await startLuma({ stateDir, manifests, instance, config });
  });

  afterAll(async () => {
    await luma?.stop();
    await removeInstanceContainers(instance);
    await rm(dir, { recursive: true, force: true });
  });

  async function apply(name: string, env: Record<string, string>): Promise<void> {
    const file = path.join(dir, `${name}.yaml`);
    await writeFile(
      file,
      projectManifest(name, { image: TEST_IMAGE, hostnames: [`${name}.localhost`], minInstances: 1, env }),
    );
    const result = await runCli(['apply', '-f', file], { api: luma.api });
    expect(result.code, result.stderr).toBe(0);
  }

  async function phase(name: string): Promise<string | undefined> {
    const result = await runCli(['get', 'project', name, '-o', 'json'], { api: luma.api });
    return result.code === 0 ? (JSON.parse(result.stdout) as ProjectObject).status?.phase : undefined;
  }

  it('runs a minInstances: 1 project right after apply, replaces it on an env change and removes it on delete', async () => {
    await apply('warm', { VERSION: 'one' });
    const [first] = await eventually(
      async () => {
        const running = await runningContainersOf(instance, 'warm');
        return running.length === 1 && running;
      },
      15_000,
      'a running container after apply',
    );
    expect(await phase('warm')).toBe('Running');

    await apply('warm', { VERSION: 'two' });
    await eventually(
      async () => {
        const all = await containersOf(instance, 'warm');
        return all.length === 1 && all[0]?.Id !== first?.Id && all[0]?.State === 'running';
      },
      15_000,
      'the container replaced after an env change',
    );
    const answer = await request(luma.proxyPort, 'warm.localhost', '/cgi-bin/env');
    expect(answer.body).toContain('VERSION=two');

    const deleted = await runCli(['delete', 'project', 'warm'], { api: luma.api });
    expect(deleted.code, deleted.stderr).toBe(0);
    await eventually(
      async () => (await containersOf(instance, 'warm')).length === 0,
      15_000,
      'containers removed after delete',
    );
    expect((await request(luma.proxyPort, 'warm.localhost')).status).toBe(404);
  });

  it('recreates a container removed by hand (resync)', async () => {
    await apply('healed', {});
    const [original] = await eventually(
      async () => {
        const running = await runningContainersOf(instance, 'healed');
        return running.length === 1 && running;
      },
      15_000,
      'a running container',
    );
    await docker.getContainer(original!.Id).remove({ force: true });
    const [replacement] = await eventually(
      async () => {
        const running = await runningContainersOf(instance, 'healed');
        return running.length === 1 && running[0]?.Id !== original?.Id && running;
      },
      15_000,
      'a replacement container',
    );
    expect(replacement?.Id).not.toBe(original?.Id);
    expect((await request(luma.proxyPort, 'healed.localhost')).status).toBe(200);
  });

  it('adopts the running container after SIGKILL and a restart: no second container, the app keeps answering', async () => {
    await apply('adopted', {});
    const [before] = await eventually(
      async () => {
        const running = await runningContainersOf(instance, 'adopted');
        return running.length === 1 && running;
      },
      15_000,
      'a running container',
    );
    const proxyPort = luma.proxyPort;

    await luma.kill();
    // The container outlives the controller.
    expect((await runningContainersOf(instance, 'adopted')).map((container) => container.Id)).toEqual([before?.Id]);

    luma = await startLuma({ stateDir, manifests, instance, config, proxyPort });
    const answer = await eventually(
      async () => {
        const reply = await request(luma.proxyPort, 'adopted.localhost');
        return reply.status === 200 && reply;
      },
      15_000,
      'the adopted app answering',
    );
    expect(answer.body).toBe('hello from the test app\n');
    // Two resyncs later there is still exactly the original container.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect((await containersOf(instance, 'adopted')).map((container) => container.Id)).toEqual([before?.Id]);
    expect(await phase('adopted')).toBe('Running');
  });
});
