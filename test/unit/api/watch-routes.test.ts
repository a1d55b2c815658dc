import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiServer } from '../../../src/api/server.js';
import { ApiClient, CliError, type WatchMessage } from '../../../src/cli/api-client.js';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { EventLog, type LumaEvent } from '../../../src/events/event-log.js';
import { ContextStore } from '../../../src/images/context-store.js';
import { LogHub } from '../../../src/logs/log-hub.js';
import { API_VERSION, type LumaObject } from '../../../src/model/types.js';
import { FileStore } from '../../../src/store/file-store.js';
import { silentLogger } from '../../../src/util/logger.js';
import { TEST_API_TOKEN } from '../../support/api-token.js';
import { FakeRuntime } from '../../support/fakes/fake-runtime.js';

// Lists with label selectors, the watch streams of objects and events, and dry runs that
// answer the live and would-be objects, through the CLI's own client on a loopback port.

let dir: string;
let store: FileStore;
let events: EventLog;
let app: FastifyInstance;
let api: ApiClient;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'luma-watch-'));
  store = await FileStore.open(path.join(dir, 'state'));
  events = new EventLog();
  app = await createApiServer({
    store,
    contexts: new ContextStore(path.join(dir, 'contexts'), DEFAULT_SETTINGS.contextLimits),
    logs: new LogHub(),
    maxUploadBytes: DEFAULT_SETTINGS.maxUploadBytes,
    admission: DEFAULT_SETTINGS,
    usage: { records: () => [] },
    runtime: new FakeRuntime(),
    logHeartbeatIntervalMs: 60_000,
    events,
    token: TEST_API_TOKEN,
    logger: silentLogger(),
    health: async () => ({ status: 'ok', docker: { reachable: true } }),
    dockerState: () => ({ reachable: true }),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  api = new ApiClient(`http://127.0.0.1:${(app.server.address() as { port: number }).port}`, { token: TEST_API_TOKEN });
});

afterEach(async () => {
  await app.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function project(name: string, labels: Record<string, string> = {}, port?: number): LumaObject {
  return { apiVersion: API_VERSION, kind: 'Project', metadata: { name, labels }, spec: { image: 'busybox', hostnames: [`${name}.localhost`], ...(port ? { port } : {}) } };
}

function summary(message: WatchMessage): string {
  return message.type === 'SYNCED' ? 'SYNCED' : `${message.type} ${message.object.metadata.name}`;
}

describe('lists', () => {
  it('select by labels, kubectl style', async () => {
    await store.apply(project('web', { tier: 'front' }));
    await store.apply(project('api', { tier: 'back' }));
    await store.apply(project('bare'));
    const names = async (labelSelector: string): Promise<string[]> => (await api.list('Project', { labelSelector })).items.map((object) => object.metadata.name);
    expect(await names('tier=front')).toEqual(['web']);
    expect(await names('tier in (front,back)')).toEqual(['api', 'web']);
    expect(await names('!tier')).toEqual(['bare']);
    expect(await names('tier!=front')).toEqual(['api', 'bare']);
  });

  it('refuse a bad selector with 400, naming it', async () => {
    await expect(api.list('Project', { labelSelector: 'tier in ()' })).rejects.toThrow('invalid label selector "tier in ()"');
  });
});

describe('watch', () => {
  it('streams the present, SYNCED, then each matching change, and stops when aborted', async () => {
    await store.apply(project('web', { tier: 'front' }));
    await store.apply(project('api', { tier: 'back' }));
    const abort = new AbortController();
    const seen: string[] = [];
    for await (const message of api.watch('Project', { labelSelector: 'tier=front' }, abort.signal)) {
      seen.push(summary(message));
      if (message.type === 'SYNCED') {
        await store.apply(project('api', { tier: 'back' }, 3000)); // does not match
        await store.apply(project('web', { tier: 'front' }, 3000));
        await store.delete('Project', 'web');
      }
      if (message.type === 'DELETED') abort.abort();
    }
    expect(seen).toEqual(['ADDED web', 'SYNCED', 'MODIFIED web', 'DELETED web']);
  });

  it('by name says SYNCED with nothing before it when the object does not exist', async () => {
    const abort = new AbortController();
    const seen: string[] = [];
    for await (const message of api.watch('Image', { name: 'nope' }, abort.signal)) {
      seen.push(summary(message));
      abort.abort();
    }
    expect(seen).toEqual(['SYNCED']);
  });

  it('streams events of one object: the ones so far, SYNCED, then new and repeated ones', async () => {
    events.record('controller', { kind: 'Project', name: 'web' }, 'Normal', 'Started', 'one');
    events.record('controller', { kind: 'Project', name: 'api' }, 'Normal', 'Started', 'other');
    const abort = new AbortController();
    const seen: string[] = [];
    for await (const message of api.watchEvents({ kind: 'project', name: 'web' }, abort.signal)) {
      seen.push(message === 'SYNCED' ? message : `${message.reason} x${message.count}`);
      if (message === 'SYNCED') {
        events.record('controller', { kind: 'Project', name: 'web' }, 'Normal', 'Started', 'one');
        events.record('controller', { kind: 'Project', name: 'web' }, 'Warning', 'StartFailed', 'no');
      }
      if (message !== 'SYNCED' && message.reason === 'StartFailed') abort.abort();
    }
    expect(seen).toEqual(['Started x1', 'SYNCED', 'Started x2', 'StartFailed x1']);
    const listed: LumaEvent[] = (await api.events({ kind: 'Project' })).items;
    expect(listed.map((event) => `${event.object.name} ${event.reason}`)).toEqual(['api Started', 'web Started', 'web StartFailed']);
  });

  it('is refused without the token, saying so', async () => {
    const anonymous = new ApiClient(api.server, { missing: 'no token given' });
    await expect(anonymous.watch('Project', {}).next()).rejects.toThrow(/no token given/);
  });

  it('says so when the API cannot be reached', async () => {
    const gone = new ApiClient('http://127.0.0.1:9');
    await expect(gone.watch('Project', {}).next()).rejects.toThrow(CliError);
  });
});

describe('dry runs', () => {
  it('answer the live object and the one that would be stored, and store nothing', async () => {
    await store.apply(project('web', {}, 3000));
    const yaml = (port: number): string => `apiVersion: ${API_VERSION}\nkind: Project\nmetadata:\n  name: web\nspec:\n  image: busybox\n  hostnames: [web.localhost]\n  port: ${port}\n`;
    const report = await api.applyFiles([{ path: 'web.yaml', content: yaml(4000) }], true);
    expect(report.results[0]).toMatchObject({ result: 'configured', live: { spec: { port: 3000 } }, object: { spec: { port: 4000 } } });
    expect(store.get('Project', 'web')?.spec.port).toBe(3000);
    const created = await api.applyFiles([{ path: 'new.yaml', content: yaml(1).replace('name: web', 'name: fresh').replace('web.localhost', 'fresh.localhost') }], true);
    expect(created.results[0]).toMatchObject({ result: 'created', live: null });
    expect(store.get('Project', 'fresh')).toBeUndefined();
  });
});
