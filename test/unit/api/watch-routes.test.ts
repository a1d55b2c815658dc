import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { once } from 'node:events';
import net from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TOO_SLOW } from '../../../src/api/sse-stream.js';
import { API_PREFIX, EVENT_STREAM_EVENT, WATCH_ERROR_EVENT } from '../../../src/api/wire.js';
import { SseParser, type SseMessage } from '../../../src/logs/sse.js';
import { createApiServer } from '../../../src/api/server.js';
import { ApiClient, CliError, type WatchMessage } from '../../../src/cli/api-client.js';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { MemoryEventLog, type LumaEvent } from '../../../src/events/event-log.js';
import { ContextStore } from '../../../src/images/context-store.js';
import { LogHub } from '../../../src/logs/log-hub.js';
import { API_VERSION, type LumaObject } from '../../../src/model/types.js';
import { FileStore } from '../../../src/store/file-store.js';
import { silentLogger } from '../../../src/util/logger.js';
import { TEST_API_TOKEN } from '../../support/api-token.js';
import { FakeRuntime } from '../../support/fakes/fake-runtime.js';

// Lists with label selectors, the watch streams of objects and events, and dry runs that
// answer the live and would-be objects, through the CLI's own client on a loopback port.

/** Small, so that a stalled reader crosses it after a few thousand events. */
const SLOW_READER_LIMIT = 64 * 1024;

let dir: string;
let store: FileStore;
let events: MemoryEventLog;
let app: FastifyInstance;
let api: ApiClient;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'luma-watch-'));
  store = await FileStore.open(path.join(dir, 'state'));
  events = new MemoryEventLog();
  app = await createApiServer({
    store,
    contexts: new ContextStore(path.join(dir, 'contexts'), DEFAULT_SETTINGS.contextLimits),
    logs: new LogHub(),
    maxUploadBytes: DEFAULT_SETTINGS.maxUploadBytes,
    admission: DEFAULT_SETTINGS,
    usage: { records: () => [] },
    runtime: new FakeRuntime(),
    logHeartbeatIntervalMs: 60_000,
    watchMaxBufferedBytes: SLOW_READER_LIMIT,
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
  // A watch the client aborted can hold its connection open for ~4 s more (undici lets go
  // of the socket late), and close() would wait for it: the test is over, so cut it.
  app.server.closeAllConnections();
  await app.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function project(name: string, labels: Record<string, string> = {}, port?: number): LumaObject {
  return {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name, labels },
    spec: { image: 'busybox', hostnames: [`${name}.localhost`], ...(port ? { port } : {}) },
  };
}

function summary(message: WatchMessage): string {
  return message.type === 'SYNCED' ? 'SYNCED' : `${message.type} ${message.object.metadata.name}`;
}

describe('lists', () => {
  it('select by labels, kubectl style', async () => {
    await store.apply(project('web', { tier: 'front' }));
    await store.apply(project('api', { tier: 'back' }));
    await store.apply(project('bare'));
    const names = async (labelSelector: string): Promise<string[]> =>
      (await api.list('Project', { labelSelector })).items.map((object) => object.metadata.name);
    expect(await names('tier=front')).toEqual(['web']);
    expect(await names('tier in (front,back)')).toEqual(['api', 'web']);
    expect(await names('!tier')).toEqual(['bare']);
    expect(await names('tier!=front')).toEqual(['api', 'bare']);
  });

  it('refuse a bad selector with 400, naming it', async () => {
    await expect(api.list('Project', { labelSelector: 'tier in ()' })).rejects.toThrow(
      'invalid label selector "tier in ()"',
    );
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
    expect(listed.map((event) => `${event.object.name} ${event.reason}`)).toEqual([
      'api Started',
      'web Started',
      'web StartFailed',
    ]);
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

describe('a watcher that reads as fast as it can', () => {
  it('gets the whole present however large it is: the first burst is not a reader falling behind', async () => {
    // 4 MiB of projects, 64 times the limit and more than the kernel's socket buffers take
    // in at once: the present is written in one turn of the event loop, before any of it
    // can reach the reader.
    const count = 16;
    for (let i = 0; i < count; i++) {
      await store.apply({
        apiVersion: API_VERSION,
        kind: 'Project',
        metadata: { name: `p${i}` },
        spec: { image: 'busybox', hostnames: [`p${i}.localhost`], env: { PADDING: 'x'.repeat(256 * 1024) } },
      });
    }
    const seen: string[] = [];
    for await (const message of api.watch('Project', {})) {
      seen.push(summary(message));
      if (message.type === 'SYNCED') break;
    }
    expect(seen.length).toBe(count + 1);
    expect(seen.at(-1)).toBe('SYNCED');
  });
});

describe('a watcher that stops reading', () => {
  /** A raw client that sends its request and then reads nothing until told. */
  async function stalledWatch(urlPath: string): Promise<net.Socket> {
    const socket = net.connect((app.server.address() as net.AddressInfo).port, '127.0.0.1');
    socket.pause();
    socket.write(
      `GET ${urlPath} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${TEST_API_TOKEN}\r\nConnection: close\r\n\r\n`,
    );
    await once(socket, 'connect');
    // The server answers the head and the present state before the burst.
    await new Promise((resolve) => setTimeout(resolve, 50));
    return socket;
  }

  async function readToEnd(socket: net.Socket): Promise<SseMessage[]> {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.resume();
    await once(socket, 'end');
    // Chunked framing aside, what is left is the event stream.
    return new SseParser().push(text.slice(text.indexOf('\r\n\r\n') + 4).replace(/\r\n[0-9a-f]+\r\n/g, ''));
  }

  /** Watches through the CLI's client, stops pulling after SYNCED while `burst` runs, then reads on. */
  async function consumeAfterBurst(burst: () => Promise<unknown>): Promise<void> {
    const watch = api.watch('Project', {});
    for (
      let message = await watch.next();
      !message.done && message.value.type !== 'SYNCED';
      message = await watch.next()
    );
    await burst();
    for await (const message of watch) void message;
  }

  it('of events is dropped with a last ERROR message, and the server goes on', async () => {
    const socket = await stalledWatch(`${API_PREFIX}/events?watch=true`);
    const produced = 5_000;
    for (let i = 0; i < produced; i++)
      events.record(
        'controller',
        { kind: 'Project', name: 'web' },
        'Normal',
        'Started',
        `event ${i} ${'x'.repeat(1000)}`,
      );
    const messages = await readToEnd(socket);
    expect(messages.at(-1)).toEqual({ event: WATCH_ERROR_EVENT, data: JSON.stringify(TOO_SLOW) });
    expect(messages.filter((message) => message.event === EVENT_STREAM_EVENT).length).toBeLessThan(produced / 2);
    // A new watcher is served as before.
    const next = api.watchEvents({ name: 'web' });
    expect((await next.next()).value).toMatchObject({ object: { kind: 'Project', name: 'web' } });
    await next.return(undefined);
  });

  it('of objects is dropped the same way, and the CLI says why', async () => {
    const socket = await stalledWatch(`${API_PREFIX}/projects?watch=true`);
    const padded = (round: number): LumaObject => ({
      apiVersion: API_VERSION,
      kind: 'Project',
      metadata: { name: 'web' },
      spec: {
        image: 'busybox',
        hostnames: ['web.localhost'],
        env: { ROUND: String(round), PADDING: 'x'.repeat(256 * 1024) },
      },
    });
    // 8 MiB in all: more than the kernel's socket buffers take in for a reader that reads nothing.
    const writes = 32;
    for (let i = 0; i < writes; i++) await store.apply(padded(i));
    const messages = await readToEnd(socket);
    expect(messages.at(-1)).toEqual({ event: WATCH_ERROR_EVENT, data: JSON.stringify(TOO_SLOW) });
    expect(messages.filter((message) => message.event === 'MODIFIED').length).toBeLessThan(writes - 1);
    // The CLI's watch of a stream the server ended this way fails with the server's reason.
    const cliSocket = await stalledWatch(`${API_PREFIX}/projects?watch=true`);
    cliSocket.destroy();
    await expect(
      consumeAfterBurst(() => Promise.all(Array.from({ length: writes }, (_, i) => store.apply(padded(writes + i))))),
    ).rejects.toThrow(new CliError(`the server ended the watch: ${TOO_SLOW.message}`));
  });
});

describe('dry runs', () => {
  it('answer the live object and the one that would be stored, and store nothing', async () => {
    await store.apply(project('web', {}, 3000));
    const yaml = (port: number): string =>
      `apiVersion: ${API_VERSION}\nkind: Project\nmetadata:\n  name: web\nspec:\n  image: busybox\n  hostnames: [web.localhost]\n  port: ${port}\n`;
    const report = await api.applyFiles([{ path: 'web.yaml', content: yaml(4000) }], true);
    expect(report.results[0]).toMatchObject({
      result: 'configured',
      live: { spec: { port: 3000 } },
      object: { spec: { port: 4000 } },
    });
    expect(store.get('Project', 'web')?.spec.port).toBe(3000);
    const created = await api.applyFiles(
      [
        {
          path: 'new.yaml',
          content: yaml(1).replace('name: web', 'name: fresh').replace('web.localhost', 'fresh.localhost'),
        },
      ],
      true,
    );
    expect(created.results[0]).toMatchObject({ result: 'created', live: null });
    expect(store.get('Project', 'fresh')).toBeUndefined();
  });
});
