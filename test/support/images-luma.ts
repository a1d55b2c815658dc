import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { removeInstanceContainers } from './docker.js';
import { Api, removeInstanceImages } from './images.js';
import { startLuma, tempDir, writeConfig, type LumaProcess } from './luma.js';

// The `luma up` the image suites share: a temporary directory with an empty manifests
// directory, a one-second resync, and the API client; stopped with everything its
// instance made (containers, then images) removed.

export interface ImagesLuma {
  luma: LumaProcess;
  api: Api;
  dir: string;
}

export async function startImagesLuma(label: string, instance: string): Promise<ImagesLuma> {
  const dir = await tempDir(label);
  await mkdir(path.join(dir, 'manifests'));
  const config = await writeConfig(dir, { resyncInterval: '1s' });
  const luma = await startLuma({
    stateDir: path.join(dir, 'state'),
    manifests: path.join(dir, 'manifests'),
    instance,
    config,
  });
  return { luma, api: new Api(luma.api), dir };
}

export async function stopImagesLuma(started: Partial<ImagesLuma>, instance: string): Promise<void> {
  await started.luma?.stop();
  await removeInstanceContainers(instance);
  await removeInstanceImages(instance);
  if (started.dir) await rm(started.dir, { recursive: true, force: true });
}
