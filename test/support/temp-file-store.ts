import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { API_VERSION } from '../../src/model/types.js';
import { FileStore } from '../../src/store/file-store.js';

// A fresh FileStore in a temporary directory for each test of a file, closed and deleted
// after it, and the Project YAML those tests feed the apply path with.

/** Opens the store before each test and hands it to `opened`; closes and deletes it after. */
export function useTempFileStore(prefix: string, opened: (store: FileStore) => void): void {
  let stateDir: string | undefined;
  let store: FileStore | undefined;

  beforeEach(async () => {
    stateDir = await mkdtemp(path.join(tmpdir(), prefix));
    store = await FileStore.open(stateDir);
    opened(store);
  });

  afterEach(async () => {
    await store?.close();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });
}

/** A Project manifest as a user writes it; `extra` lines go at the end of its spec. */
export function projectYaml(name: string, hostnames: string[], image = 'hello', extra: string[] = []): string {
  return [
    `apiVersion: ${API_VERSION}`,
    'kind: Project',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    `  image: ${image}`,
    '  hostnames:',
    ...hostnames.map((host) => `    - ${host}`),
    ...extra,
    '',
  ].join('\n');
}

/** Stores a Project straight through the store, as if applied earlier. */
export async function storeProject(store: FileStore, name: string, hostnames: string[]): Promise<void> {
  await store.apply({
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name },
    spec: { image: 'hello', hostnames },
  });
}
