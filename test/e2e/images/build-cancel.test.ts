import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageObject } from '../../../src/model/types.js';
import { docker, testInstance } from '../../support/docker.js';
import { startImagesLuma, stopImagesLuma } from '../../support/images-luma.js';
import { Api, HTTPD_DOCKERFILE, httpdContext, imageManifest, uniqueName } from '../../support/images.js';
import { apiFetch, eventually, runCli, type LumaProcess } from '../../support/luma.js';

// Deleting an Image stops its build: the step that runs is killed, nothing is tagged or
// left labelled behind, and an Image re-created under the same name builds at once
// instead of waiting for a build nobody wants any more.

/** Long enough that waiting for it would blow every bound below; odd, so that its build container is ours to find. */
const SLOW_SECONDS = 67;
const SLOW_STEP = `RUN ["/bin/busybox", "sleep", "${SLOW_SECONDS}"]`;

describe('an Image deleted mid-build', () => {
  const instance = testInstance('img-cancel');
  const name = uniqueName('c');
  let luma: LumaProcess;
  let api: Api;
  let dir: string;

  beforeAll(async () => {
    ({ luma, api, dir } = await startImagesLuma('img-cancel', instance));
  });

  afterAll(() => stopImagesLuma({ luma, dir }, instance));

  async function apply(manifest: string): Promise<void> {
    const result = await runCli(['apply', '-f', manifest], { api: luma.api });
    expect(result.code, result.stderr).toBe(0);
  }

  /** The classic builder's container for the slow step (it carries no label of ours, only its command). */
  async function slowStepContainers(): Promise<string[]> {
    const containers = await docker.listContainers({ all: true });
    return containers
      .filter((container) => container.Command.includes(`sleep ${SLOW_SECONDS}`))
      .map((container) => container.Id);
  }

  /** With `all`, intermediate images too: a cancelled build must leave none of them labelled. */
  async function labelledImages(options: { all: boolean } = { all: true }): Promise<string[]> {
    const images = await docker.listImages({
      all: options.all,
      filters: { label: [`luma.dev/instance=${instance}`, `luma.dev/name=${name}`] },
    });
    return images.map((image) => image.Id);
  }

  it('stops the build within seconds, leaves no image, and a re-created Image builds at once', async () => {
    const manifest = path.join(dir, 'app', 'luma.yaml');
    await httpdContext(path.join(dir, 'app', 'slow'), 'slow\n', {
      Dockerfile: HTTPD_DOCKERFILE.replace('COPY www /www', `${SLOW_STEP}\nCOPY www /www`),
    });
    await writeFile(manifest, imageManifest(name, { context: './slow' }));
    await apply(manifest);

    const building = await eventually(
      async () => {
        const image = await api.image(name);
        return image.status?.phase === 'Building' && (await slowStepContainers()).length > 0 ? image : undefined;
      },
      30_000,
      'the slow step running',
    );
    const tag = building.status?.tag ?? '';
    expect(tag).not.toBe('');

    const deleted = await apiFetch(luma.api, `/api/v1alpha1/images/${name}`, { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    const deletedAt = Date.now();
    // The engine kills and removes the step's container once the build's request is closed.
    await eventually(async () => (await slowStepContainers()).length === 0, 10_000, 'the slow step stopped');
    expect(Date.now() - deletedAt).toBeLessThan(10_000);
    expect(await labelledImages()).toEqual([]);
    await expect(docker.getImage(tag).inspect()).rejects.toThrow();

    // Re-created under the same name, fast this time: it does not wait for the old build.
    await httpdContext(path.join(dir, 'app', 'fast'), 'fast\n');
    await writeFile(manifest, imageManifest(name, { context: './fast' }));
    await apply(manifest);
    const ready = await eventually(
      async () => {
        const image: ImageObject = await api.image(name);
        return image.status?.phase === 'Ready' ? image : undefined;
      },
      30_000,
      're-created image Ready',
    );
    expect(Date.now() - deletedAt).toBeLessThan((SLOW_SECONDS - 20) * 1000);
    expect(ready.status?.image).not.toBe(tag);
    // One image (its labelled parent layers, as every build has, are listed only with `all`).
    expect(await labelledImages({ all: false })).toHaveLength(1);
  });
});
