import { DEFAULT_SETTINGS } from '../../../src/config/settings.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { LOG_CLOSE_CODES } from '../../../src/api/log-routes.js';
import { createApiServer } from '../../../src/api/server.js';
import { ContextStore } from '../../../src/images/context-store.js';
import { LogHub } from '../../../src/logs/log-hub.js';
import { DockerUnavailableError } from '../../../src/runtime/errors.js';
import type { OwnerRef } from '../../../src/runtime/labels.js';
import { FileStore } from '../../../src/store/file-store.js';
import { silentLogger } from '../../../src/util/logger.js';
import { FakeClock, settle } from '../../support/fakes/fake-clock.js';
import { FakeRuntime } from '../../support/fakes/fake-runtime.js';
import { AUTHORIZATION, authorizedInject, TEST_API_TOKEN } from '../../support/api-token.js';

// The log routes on the API, against a fake runtime and a fake clock: the three wires
// (plain text, SSE, WebSocket), refusals before anything streams, heartbeats, and the
// close codes that say why a log ended.

const HEARTBEAT_MS = 1_000;
const PROJECT = [
  'apiVersion: luma.dev/v1alpha1',
  'kind: Project',
  'metadata:',
  '  name: web',
  'spec:',
  '  image: hello:latest',
  '  hostnames: [web.localhost]',
].join('\n');
const LEASE = [
  'apiVersion: luma.dev/v1alpha1',
  'kind: Lease',
  'metadata:',
  '  name: sandbox',
  'spec:',
  '  project: web',
  '  ttl: 30m',
].join('\n');

let dir: string;
let store: FileStore;
let runtime: FakeRuntime;
let clock: FakeClock;
let app: FastifyInstance;
const inject = authorizedInject(() => app);
let webOwner: OwnerRef;
let leaseOwner: OwnerRef;
let base: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'luma-log-routes-'));
  store = await FileStore.open(path.join(dir, 'state'));
  runtime = new FakeRuntime();
  clock = new FakeClock(Date.UTC(2026, 0, 1) - 60_000);
  app = await createApiServer({
    store,
    contexts: new ContextStore(path.join(dir, 'contexts'), { maxUnpackedBytes: 1_000, maxEntries: 10 }),
    logs: new LogHub(),
    runtime,
    logHeartbeatIntervalMs: HEARTBEAT_MS,
    logPollIntervalMs: 1_000,
    clock,
    maxUploadBytes: 1_000,
    admission: DEFAULT_SETTINGS,
    usage: { records: () => [] },
    logger: silentLogger(),
    token: TEST_API_TOKEN,
    health: async () => ({ status: 'ok', docker: { reachable: true } }),
    dockerState: () => ({ reachable: true }),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `ws://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  const applied = await inject({
    method: 'POST',
    url: '/apply',
    headers: { 'content-type': 'application/yaml' },
    payload: `${PROJECT}\n---\n${LEASE}\n`,
  });
  expect(applied.statusCode, applied.body).toBe(200);
  webOwner = { kind: 'Project', name: 'web', uid: store.get('Project', 'web')!.metadata.uid! };
  leaseOwner = { kind: 'Lease', name: 'sandbox', uid: store.get('Lease', 'sandbox')!.metadata.uid! };
});

afterEach(async () => {
  await app.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

function seedWeb(suffix: string): string {
  return runtime.seed({
    owner: webOwner,
    specHash: 'h',
    state: 'running',
    name: `luma-t-web-${suffix}`,
    id: `id-${suffix}`,
  }).id;
}

interface WsTranscript {
  ws: WebSocket;
  messages: Array<Record<string, unknown>>;
  opened: Promise<void>;
  closed: Promise<{ code: number; reason: string }>;
}

/** A real client on loopback, listening from the start so that nothing it is sent is missed. */
function connect(urlPath: string): WsTranscript {
  const ws = new WebSocket(`${base}${urlPath}`, { headers: AUTHORIZATION });
  const messages: Array<Record<string, unknown>> = [];
  ws.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString()) as Record<string, unknown>));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_request, response) => reject(new Error(`HTTP ${response.statusCode}`)));
    ws.once('error', reject);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code: number, reason: Buffer) => resolve({ code, reason: reason.toString() })),
  );
  return { ws, messages, opened, closed };
}

/** Waits (in real time, briefly) for what arrives over loopback. */
async function waitFor(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 2_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('GET /api/v1alpha1/{projects,leases}/NAME/log', () => {
  it('answers plain text by default: every instance, prefixed, with RFC 3339 times', async () => {
    const a = seedWeb('aaaaaa');
    const b = seedWeb('bbbbbb');
    runtime.writeLog(a, 'GET / 200', { time: '2026-01-01T00:00:01.000000001Z' });
    runtime.writeLog(b, 'oops', { time: '2026-01-01T00:00:02.000000002Z', stream: 'stderr' });
    const answer = await inject({ url: '/api/v1alpha1/projects/web/log' });
    expect(answer.statusCode).toBe(200);
    expect(answer.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(answer.body).toBe(
      '[web-aaaaaa] 2026-01-01T00:00:01.000000001Z GET / 200\n[web-bbbbbb] 2026-01-01T00:00:02.000000002Z oops\n',
    );
    const bare = await inject({ url: '/api/v1alpha1/projects/web/log?timestamps=false&tail=1' });
    expect(bare.body).toBe('[web-aaaaaa] GET / 200\n[web-bbbbbb] oops\n');
  });

  it("answers a lease's log without instance prefixes, and an empty log with an empty 200", async () => {
    expect((await inject({ url: '/api/v1alpha1/leases/sandbox/log' })).body).toBe('');
    const id = runtime.seed({ owner: leaseOwner, specHash: 'h', state: 'running', name: 'luma-t-sandbox-cccccc' }).id;
    runtime.writeLog(id, 'ready', { time: '2026-01-01T00:00:01Z' });
    const answer = await inject({ url: '/api/v1alpha1/leases/sandbox/log' });
    expect(answer.statusCode).toBe(200);
    expect(answer.body).toBe('2026-01-01T00:00:01Z ready\n');
  });

  it('answers server-sent events when asked: one JSON event per line and an end event', async () => {
    runtime.writeLog(seedWeb('aaaaaa'), 'hello', { time: '2026-01-01T00:00:01Z' });
    const answer = await inject({ url: '/api/v1alpha1/projects/web/log', headers: { accept: 'text/event-stream' } });
    expect(answer.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(answer.body).toBe(
      'data: {"instance":"web-aaaaaa","stream":"stdout","time":"2026-01-01T00:00:01Z","line":"hello"}\n\n' +
        'event: end\ndata: {"reason":"complete","message":"end of the log"}\n\n',
    );
  });

  it('refuses an unknown object (404) and a bad query (400) before streaming anything', async () => {
    const missing = await inject({ url: '/api/v1alpha1/projects/nope/log?follow=true' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toEqual({ error: 'NotFound', message: 'Project "nope" not found' });
    expect((await inject({ url: '/api/v1alpha1/leases/nope/log' })).json().message).toBe('Lease "nope" not found');
    const bad = await inject({ url: '/api/v1alpha1/projects/web/log?tail=ten' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().message).toBe(
      'query parameter tail: expected a whole number of lines (0 or more) or "all", got "ten"',
    );
    await expect(connect('/api/v1alpha1/projects/nope/log?follow=true').opened).rejects.toThrow('HTTP 404');
    await expect(connect('/api/v1alpha1/projects/web/log?since=soon').opened).rejects.toThrow('HTTP 400');
    expect(runtime.logRequests).toEqual([]);
  });

  it('answers 503 with the reason when Docker cannot be reached', async () => {
    runtime.list = async () => {
      throw new DockerUnavailableError('unix:///var/run/docker.sock', 'connect ECONNREFUSED');
    };
    const answer = await inject({
      url: '/api/v1alpha1/projects/web/log?follow=true',
      headers: { accept: 'text/event-stream' },
    });
    expect(answer.statusCode).toBe(503);
    expect(answer.json().message).toContain('cannot reach the Docker engine at unix:///var/run/docker.sock');
  });

  it('follows over SSE with heartbeat comments, and ends with container-gone when the lease container goes away', async () => {
    const id = runtime.seed({ owner: leaseOwner, specHash: 'h', state: 'running', name: 'luma-t-sandbox-cccccc' }).id;
    const answering = inject({
      url: '/api/v1alpha1/leases/sandbox/log?follow=true',
      headers: { accept: 'text/event-stream' },
    });
    await waitFor(() => runtime.openLogStreams(id) === 1, 'the follower to attach');
    runtime.writeLog(id, 'working', { time: '2026-01-01T00:00:01Z' });
    await settle();
    await clock.advance(HEARTBEAT_MS * 2);
    await runtime.remove(id);
    const answer = await answering;
    expect(answer.body).toBe(
      'data: {"instance":"sandbox-cccccc","stream":"stdout","time":"2026-01-01T00:00:01Z","line":"working"}\n\n' +
        ': heartbeat\n\n: heartbeat\n\n' +
        'event: end\ndata: {"reason":"container-gone","message":"the container of lease/sandbox is gone"}\n\n',
    );
  });

  it("reads a finished lease's log without following it", async () => {
    await store.updateStatus('Lease', 'sandbox', { phase: 'Expired' });
    const answer = await inject({
      url: '/api/v1alpha1/leases/sandbox/log?follow=true',
      headers: { accept: 'text/event-stream' },
    });
    expect(answer.body).toBe(
      'event: end\ndata: {"reason":"complete","message":"lease/sandbox has no containers: nothing to show"}\n\n',
    );
  });

  it('sends each line as a JSON message over a WebSocket, and heartbeats that keep an idle socket open', async () => {
    const id = seedWeb('aaaaaa');
    const client = connect('/api/v1alpha1/projects/web/log?follow=true');
    await client.opened;
    await waitFor(() => runtime.openLogStreams(id) === 1, 'the follower to attach');
    runtime.writeLog(id, 'hello', { time: '2026-01-01T00:00:01Z', stream: 'stderr' });
    await waitFor(() => client.messages.length === 1, 'the line');
    expect(client.messages).toEqual([
      { type: 'line', instance: 'web-aaaaaa', stream: 'stderr', time: '2026-01-01T00:00:01Z', line: 'hello' },
    ]);
    let pings = 0;
    client.ws.on('ping', () => pings++);
    await clock.advance(HEARTBEAT_MS - 1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(client.messages).toHaveLength(1);
    for (let beat = 1; beat <= 3; beat++) {
      await clock.advance(beat === 1 ? 1 : HEARTBEAT_MS);
      await waitFor(() => client.messages.length === 1 + beat && pings === beat, `heartbeat ${beat}`);
      expect(client.messages.at(-1)).toEqual({ type: 'heartbeat', time: new Date(clock.now()).toISOString() });
    }
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    client.ws.close();
    await client.closed;
    await waitFor(() => runtime.openLogStreams() === 0, 'the engine stream to be released');
    expect(clock.pendingTimers()).toBe(0);
  });

  it('drops a peer that stopped answering pings', async () => {
    seedWeb('aaaaaa');
    const client = connect('/api/v1alpha1/projects/web/log?follow=true');
    await client.opened;
    await waitFor(() => runtime.openLogStreams() === 1, 'the follower to attach');
    // A peer gone without a word: its socket stays, but nothing answers (ws answers pings itself, so pause it).
    client.ws.pause();
    await clock.advance(HEARTBEAT_MS);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await clock.advance(HEARTBEAT_MS);
    await waitFor(() => runtime.openLogStreams() === 0, 'the session to end');
    client.ws.resume();
    expect((await client.closed).code).toBe(1006);
  });

  it('closes the WebSocket with 4404 when the project is deleted', async () => {
    seedWeb('aaaaaa');
    const client = connect('/api/v1alpha1/projects/web/log?follow=true');
    await client.opened;
    await waitFor(() => runtime.openLogStreams() === 1, 'the follower to attach');
    expect((await inject({ method: 'DELETE', url: '/api/v1alpha1/projects/web' })).statusCode).toBe(200);
    expect(await client.closed).toEqual({ code: LOG_CLOSE_CODES['object-deleted'], reason: 'project/web was deleted' });
    expect(client.messages.at(-1)).toEqual({
      type: 'end',
      reason: 'object-deleted',
      message: 'project/web was deleted',
    });
    expect(runtime.openLogStreams()).toBe(0);
  });

  it('closes the WebSocket with 4410 when the lease container is gone, and tells a waiting reader why nothing comes', async () => {
    const client = connect('/api/v1alpha1/leases/sandbox/log?follow=true');
    await client.opened;
    await waitFor(() => client.messages.length === 1, 'the notice');
    expect(client.messages).toEqual([
      { type: 'notice', message: 'lease/sandbox has no running container; waiting for one to start' },
    ]);
    const id = runtime.seed({ owner: leaseOwner, specHash: 'h', state: 'running', name: 'luma-t-sandbox-cccccc' }).id;
    await clock.advance(1_000);
    await waitFor(() => runtime.openLogStreams(id) === 1, 'the follower to attach');
    await runtime.remove(id);
    expect(await client.closed).toEqual({
      code: LOG_CLOSE_CODES['container-gone'],
      reason: 'the container of lease/sandbox is gone',
    });
  });

  it('closes a WebSocket read without follow with 1000 after the last line', async () => {
    runtime.writeLog(seedWeb('aaaaaa'), 'only line', { time: '2026-01-01T00:00:01Z' });
    const client = connect('/api/v1alpha1/projects/web/log');
    expect(await client.closed).toEqual({ code: 1000, reason: 'end of the log' });
    expect(client.messages.map((message) => message.type)).toEqual(['line', 'end']);
  });

  it('ends open logs with 1001 and a shutdown event when the server closes', async () => {
    const id = seedWeb('aaaaaa');
    const client = connect('/api/v1alpha1/projects/web/log?follow=true');
    await client.opened;
    const sse = inject({ url: '/api/v1alpha1/projects/web/log?follow=true', headers: { accept: 'text/event-stream' } });
    await waitFor(() => runtime.openLogStreams(id) === 2, 'both followers to attach');
    await app.close();
    expect(await client.closed).toEqual({ code: 1001, reason: 'the Luma API is shutting down' });
    expect((await sse).body).toContain(
      'event: end\ndata: {"reason":"shutdown","message":"the Luma API is shutting down"}',
    );
    expect(runtime.openLogStreams()).toBe(0);
  });

  it('lists both routes in the OpenAPI document', async () => {
    const paths = Object.keys(
      (await inject({ url: '/openapi.json' })).json<{ paths: Record<string, unknown> }>().paths,
    );
    expect(paths).toEqual(
      expect.arrayContaining(['/api/v1alpha1/projects/{name}/log', '/api/v1alpha1/leases/{name}/log']),
    );
  });
});
