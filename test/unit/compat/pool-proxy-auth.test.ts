import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createApiServer } from '../../../src/api/server.js';
import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { ContextStore } from '../../../src/images/context-store.js';
import { LogHub } from '../../../src/logs/log-hub.js';
import { FileStore } from '../../../src/store/file-store.js';
import { createLogger } from '../../../src/util/logger.js';
import { FakeRuntime } from '../../support/fakes/fake-runtime.js';
import { API_VERSION } from '../../../src/model/types.js';

const TOKEN = 'probe-token-123456';
let base = '';
let seen: string[] = [];
let logs = '';
let close: () => Promise<void>;

beforeAll(async () => {
  const upstream = http.createServer((req, res) => {
    seen.push(`${req.method} ${req.url} host=${req.headers.host}`);
    res.end('from-container');
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upPort = (upstream.address() as { port: number }).port;
  const dir = await mkdtemp(path.join(tmpdir(), 'probe-'));
  const store = await FileStore.open(path.join(dir, 'state'));
  await store.apply({
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: 'container-pool' },
    spec: { image: 'x', hostnames: ['pool.localhost'] },
  } as never);
  await store.apply({
    apiVersion: API_VERSION,
    kind: 'Lease',
    metadata: { name: 'pool-abc', labels: { 'compat.luma.dev/system': 'containerPool' } },
    spec: { project: 'container-pool', ttl: '1h' },
  } as never);
  await store.updateStatus('Lease', 'pool-abc', {
    phase: 'Active',
    url: `http://pool-abc.localhost:${upPort}/`,
  } as never);
  const stream = new PassThrough();
  stream.on('data', (c) => (logs += c.toString()));
  const app = await createApiServer({
    store,
    token: TOKEN,
    contexts: await new ContextStore(path.join(dir, 'contexts'), {
      maxUnpackedBytes: 1024 * 1024,
      maxEntries: 100,
    }).prepare(),
    logs: new LogHub(),
    maxUploadBytes: 256 * 1024,
    admission: DEFAULT_SETTINGS,
    usage: { records: () => [] },
    runtime: new FakeRuntime(),
    logHeartbeatIntervalMs: 30000,
    logger: createLogger({ format: 'json', stream, level: 'info' }),
    health: async () => ({ status: 'ok', docker: { reachable: true } }),
    dockerState: () => ({ reachable: true }),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  close = async () => {
    await app.close();
    upstream.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  };
});
afterAll(async () => close());

// The container pool's proxy (/container/{id}/…) on a real API server, with an HTTP
// server standing in for the lease's container behind the public listener.

async function send(method: string, urlPath: string, headers: Record<string, string> = {}): Promise<number> {
  const answer = await fetch(base + urlPath, { method, headers, signal: AbortSignal.timeout(5000) });
  await answer.text();
  return answer.status;
}

it('refuses an OPTIONS without the token rather than forwarding it to the container', async () => {
  seen = [];
  expect(await send('OPTIONS', '/container/pool-abc/admin')).toBe(401);
  expect(await send('OPTIONS', '/containerpool/container/pool-abc')).toBe(401);
  expect(seen).toEqual([]);
  expect(await send('OPTIONS', '/container/pool-abc/admin', { authorization: `Bearer ${TOKEN}` })).toBe(200);
  expect(seen).toEqual([expect.stringMatching(/^OPTIONS \/admin /)]);
});

it('never forwards the API token to the container, however the query spells it', async () => {
  seen = [];
  expect(await send('GET', `/container/pool-abc/x?token=${TOKEN}`)).toBe(200);
  expect(await send('GET', `/container/pool-abc/y?a=1&%74oken=${TOKEN}&b=2`)).toBe(200);
  // The container's own token= parameter, with the API token in the header, goes through.
  expect(await send('GET', '/container/pool-abc/z?token=its-own', { authorization: `Bearer ${TOKEN}` })).toBe(200);
  expect(seen.map((line) => line.split(' host=')[0])).toEqual(['GET /x', 'GET /y?a=1&b=2', 'GET /z?token=its-own']);
  expect(seen.join('\n')).not.toContain(TOKEN);
});

it('does not write a ?token= to the request log', async () => {
  logs = '';
  expect(await send('GET', `/container/pool-abc/x?token=${TOKEN}`)).toBe(200);
  expect(await send('GET', `/api/v1/projects?token=${TOKEN}`)).toBe(401);
  expect(logs).toContain('token=[redacted]');
  expect(logs).not.toContain(TOKEN);
});

it('answers a path whose escapes decode to characters a request line cannot carry', async () => {
  seen = [];
  const auth = { authorization: `Bearer ${TOKEN}` };
  expect(await send('GET', '/container/pool-abc/a%20b', auth)).toBe(200);
  expect(await send('GET', '/container/pool-abc/c%0D%0AX-Injected:%201', auth)).toBe(200);
  expect(await send('GET', '/container/pool-abc/d%3Fe', auth)).toBe(200);
  expect(seen.map((line) => line.split(' host=')[0])).toEqual([
    'GET /a%20b',
    'GET /c%0D%0AX-Injected:%201',
    'GET /d%3Fe',
  ]);
});
