import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createApiServer, type ApiOptions } from '../../src/api/server.js';
import { DEFAULT_SETTINGS } from '../../src/config/settings.js';
import { ContextStore } from '../../src/images/context-store.js';
import { LogHub } from '../../src/logs/log-hub.js';
import { FileStore } from '../../src/store/file-store.js';
import { silentLogger } from '../../src/util/logger.js';
import { TEST_API_TOKEN } from './api-token.js';
import { FakeRuntime } from './fakes/fake-runtime.js';
import type { ApiEndpoint } from './luma.js';

// The real API server on loopback over a real file store, without Docker or a controller:
// nothing but the API writes to its state directory, so a test can tell exactly what a
// request changed there. Reach it with apiCall (test/support/api.ts).

export interface TestApi {
  api: ApiEndpoint;
  /** Everything the API may write: the store's objects and the uploaded contexts. */
  dir: string;
  store: FileStore;
  close(): Promise<void>;
}

/**
 * What createApiServer needs, with the defaults the unit tests share: a fake runtime, no
 * usage records, a healthy engine, a silent logger and the test token. `dir` holds the
 * uploaded contexts; `overrides` replace any of it.
 */
export function testApiOptions(store: FileStore, dir: string, overrides: Partial<ApiOptions> = {}): ApiOptions {
  return {
    store,
    contexts: new ContextStore(path.join(dir, 'contexts'), DEFAULT_SETTINGS.contextLimits),
    logs: new LogHub(),
    maxUploadBytes: DEFAULT_SETTINGS.maxUploadBytes,
    admission: DEFAULT_SETTINGS,
    usage: { records: () => [] },
    runtime: new FakeRuntime(),
    logHeartbeatIntervalMs: DEFAULT_SETTINGS.logHeartbeatIntervalMs,
    logger: silentLogger(),
    token: TEST_API_TOKEN,
    health: async () => ({ status: 'ok', docker: { reachable: true } }),
    dockerState: () => ({ reachable: true }),
    ...overrides,
  };
}

export async function startTestApi(): Promise<TestApi> {
  const dir = await mkdtemp(path.join(tmpdir(), 'luma-api-fuzz-'));
  const store = await FileStore.open(path.join(dir, 'state'));
  const app = await createApiServer(
    testApiOptions(store, dir, {
      contexts: await new ContextStore(path.join(dir, 'contexts'), {
        maxUnpackedBytes: 1024 * 1024,
        maxEntries: 100,
      }).prepare(),
      maxUploadBytes: 256 * 1024,
    }),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as { port: number };
  return {
    api: { server: `http://127.0.0.1:${port}`, stateDir: path.join(dir, 'state'), token: TEST_API_TOKEN },
    dir,
    store,
    close: async () => {
      await app.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
