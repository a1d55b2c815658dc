import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { buildTestImage, removeInstanceContainers, testInstance } from './docker.js';
import { removeInstanceImages } from './images.js';
import { startLuma, tempDir, writeConfig, type LumaProcess } from './luma.js';

// One `luma up` for a describe block, the way most e2e files start one: the busybox test
// image, a temporary directory with an empty manifests folder and a config file, an
// instance label of the run's own; stopped and cleaned up after the block, even when a
// test failed. Call it inside `describe`.

export interface LumaUpFixture {
  /** The containers' label value: what the file's Docker checks filter on. */
  readonly instance: string;
  /** The running `luma up`; read it inside tests, after beforeAll has run. */
  readonly luma: LumaProcess;
  /** The block's temporary directory (manifests/ and state/ are below it). */
  readonly dir: string;
}

export interface LumaUpFixtureOptions {
  /** Also remove the images Luma built for the run's instance (for files that build Images). */
  removeImages?: boolean;
}

export function lumaUpFor(
  name: string,
  settings: Record<string, string>,
  options: LumaUpFixtureOptions = {},
): LumaUpFixture {
  const instance = testInstance(name);
  let luma: LumaProcess | undefined;
  let dir: string | undefined;

  beforeAll(async () => {
    await buildTestImage();
    dir = await tempDir(name);
    await mkdir(path.join(dir, 'manifests'));
    const config = await writeConfig(dir, settings);
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
    if (options.removeImages) await removeInstanceImages(instance);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  return {
    instance,
    get luma(): LumaProcess {
      if (!luma) throw new Error(`luma up for "${name}" is not running: read it inside a test`);
      return luma;
    },
    get dir(): string {
      if (!dir) throw new Error(`the directory of "${name}" is not made yet: read it inside a test`);
      return dir;
    },
  };
}
