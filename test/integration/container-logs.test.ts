import { DEFAULT_SETTINGS } from '../../src/config/settings.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { LOG_CLOSE_CODES } from '../../src/api/log-routes.js';
import { createApiServer } from '../../src/api/server.js';
import { ContextStore } from '../../src/images/context-store.js';
import { LogHub } from '../../src/logs/log-hub.js';
import { followObjectLog, type LogEnd, type LogRecord } from '../../src/logs/object-log.js';
import type { OwnerRef } from '../../src/runtime/labels.js';
import { DockerRuntime } from '../../src/runtime/docker-runtime.js';
import type { LogLine } from '../../src/runtime/runtime.js';
import { FileStore } from '../../src/store/file-store.js';
import { silentLogger } from '../../src/util/logger.js';
import { buildTestImage, docker, removeInstanceContainers, TEST_IMAGE, testInstance } from '../support/docker.js';
import { eventually } from '../support/luma.js';
import { AUTHORIZATION, authorizedInject, TEST_API_TOKEN } from '../support/api-token.js';

// Container logs against the real engine: Docker's multiplexed stream with timestamps,
// long lines Docker splits, follow and its end, and project and lease logs through the
// follower and the API (a lease's container made by hand: the Lease reconciler does not
// exist yet).

const RFC3339_NANO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}Z$/;
const BUSYBOX_SH = ['/bin/busybox', 'sh', '-c'];
/** Prints "ready", waits until /go exists, prints "later", then idles. */
const WAIT_FOR_GO =
  'echo ready; while [ ! -e /go ]; do /bin/busybox sleep 0.05; done; echo later; exec /bin/busybox sleep 600';

const instance = testInstance('logs');
const runtime = new DockerRuntime({ instance });

beforeAll(async () => {
  await buildTestImage();
});

afterAll(async () => {
  await removeInstanceContainers(instance);
});

async function run(owner: OwnerRef, script: string): Promise<string> {
  const created = await runtime.create({
    owner,
    specHash: 'logs',
    image: TEST_IMAGE,
    port: 8080,
    env: {},
    command: [...BUSYBOX_SH, script],
  });
  await runtime.start(created.id);
  return created.id;
}

/** `docker exec`: lets a test make a running container go on. */
async function exec(id: string, command: string[]): Promise<void> {
  const execution = await docker.getContainer(id).exec({ Cmd: command });
  const stream = await execution.start({});
  stream.resume();
  await new Promise((resolve) => stream.on('end', resolve));
}

async function collect(id: string, options: { tail?: number; since?: string } = {}): Promise<LogLine[]> {
  const stream = await runtime.logs(id, { follow: false, ...options });
  if (!stream) throw new Error(`container ${id} is gone`);
  const lines: LogLine[] = [];
  for await (const line of stream) lines.push(line);
  return lines;
}

describe('DockerRuntime.logs', () => {
  const owner: OwnerRef = { kind: 'Project', name: 'printer', uid: 'uid-printer' };

  it('demultiplexes stdout and stderr in order, with nanosecond timestamps, joining lines Docker split', async () => {
    // stdout and stderr reach Docker through two pipes: only time orders them, hence the pauses.
    const id = await run(
      owner,
      'echo out1; /bin/busybox sleep 0.1; echo err1 >&2; /bin/busybox sleep 0.1; echo out2; /bin/busybox head -c 40000 /dev/zero | /bin/busybox tr "\\0" a; echo; printf "no newline"',
    );
    await docker.getContainer(id).wait();
    const lines = await collect(id);
    expect(lines.map((line) => [line.stream, line.line.length > 50 ? `a×${line.line.length}` : line.line])).toEqual([
      ['stdout', 'out1'],
      ['stderr', 'err1'],
      ['stdout', 'out2'],
      ['stdout', 'a×40000'],
      ['stdout', 'no newline'],
    ]);
    expect(lines[3]!.line).toBe('a'.repeat(40_000));
    for (const line of lines) expect(line.time).toMatch(RFC3339_NANO);
    expect([...lines.map((line) => line.time)].sort()).toEqual(lines.map((line) => line.time));

    expect((await collect(id, { tail: 1 })).map((line) => line.line)).toEqual(['no newline']);
    const fromOut2 = await collect(id, { since: lines[2]!.time });
    expect(fromOut2.map((line) => line.line.slice(0, 10))).toEqual(['out2', 'aaaaaaaaaa', 'no newline']);
  });

  it('follows: a line written later arrives, and the stream ends when the container stops', async () => {
    const id = await run(owner, WAIT_FOR_GO);
    const stream = await runtime.logs(id, { follow: true });
    const seen: string[] = [];
    const reading = (async () => {
      for await (const line of stream!) seen.push(line.line);
    })();
    await eventually(async () => seen.includes('ready'), 10_000, '"ready"');
    expect(seen).toEqual(['ready']);
    await exec(id, ['/bin/busybox', 'touch', '/go']);
    await eventually(async () => seen.includes('later'), 10_000, '"later" while following');
    await runtime.stop(id, 1);
    await reading;
    expect(seen).toEqual(['ready', 'later']);
  });

  it('close() ends a follow at once, the container going on', async () => {
    const id = await run(owner, WAIT_FOR_GO);
    const stream = await runtime.logs(id, { follow: true });
    const reading = (async () => {
      const seen: string[] = [];
      for await (const line of stream!) seen.push(line.line);
      return seen;
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    stream!.close();
    expect(await reading).toEqual(['ready']);
    expect((await runtime.inspect(id))?.state).toBe('running');
  });

  it('answers undefined for a container that is gone', async () => {
    const id = await run(owner, 'echo bye');
    await runtime.remove(id);
    expect(await runtime.logs(id, { follow: true })).toBeUndefined();
  });
});

describe('followObjectLog on the real engine', () => {
  it('picks up a project instance that starts while following, on Docker events (no poll)', async () => {
    const owner: OwnerRef = { kind: 'Project', name: 'events', uid: 'uid-events' };
    const records: LogRecord[] = [];
    const follow = followObjectLog(
      runtime,
      { kind: 'Project', name: 'events' },
      { follow: true, pollIntervalMs: 600_000 },
      (record) => records.push(record),
    );
    await follow.started;
    const id = await run(owner, 'echo hello from a new instance; exec /bin/busybox sleep 600');
    await eventually(async () => records.length > 0, 10_000, 'the new instance line');
    const name = (await runtime.inspect(id))!.name;
    expect(records).toEqual([
      expect.objectContaining({
        instance: `events-${name.slice(-6)}`,
        stream: 'stdout',
        line: 'hello from a new instance',
      }),
    ]);
    follow.close();
    await follow.done;
  });

  it("follows a lease's container and ends with container-gone when it is removed", async () => {
    const owner: OwnerRef = { kind: 'Lease', name: 'box', uid: 'uid-box' };
    const id = await run(owner, WAIT_FOR_GO);
    const records: LogRecord[] = [];
    let end: LogEnd | undefined;
    const follow = followObjectLog(runtime, { kind: 'Lease', name: 'box' }, { follow: true }, (record) =>
      records.push(record),
    );
    void follow.done.then((value) => (end = value));
    await eventually(async () => records.length === 1, 10_000, '"ready"');
    await exec(id, ['/bin/busybox', 'touch', '/go']);
    await eventually(async () => records.length === 2, 10_000, '"later"');
    await runtime.remove(id);
    await eventually(async () => end, 10_000, 'the end of the log');
    expect(end).toEqual({ reason: 'container-gone', message: 'the container of lease/box is gone' });
    expect(records.map((record) => record.line)).toEqual(['ready', 'later']);
  });
});

describe('the log API on the real engine', () => {
  let dir: string;
  let store: FileStore;
  let app: FastifyInstance;
  const inject = authorizedInject(() => app);
  let server: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'luma-logs-api-'));
    store = await FileStore.open(path.join(dir, 'state'));
    app = await createApiServer({
      store,
      contexts: new ContextStore(path.join(dir, 'contexts'), { maxUnpackedBytes: 1_000, maxEntries: 10 }),
      logs: new LogHub(),
      runtime,
      logHeartbeatIntervalMs: 200,
      maxUploadBytes: 1_000,
      admission: DEFAULT_SETTINGS,
      usage: { records: () => [] },
      logger: silentLogger(),
      token: TEST_API_TOKEN,
      health: async () => ({ status: 'ok', docker: { reachable: true } }),
      dockerState: () => ({ reachable: true }),
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    server = `127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const lease = [
      'apiVersion: luma.dev/v1alpha1',
      'kind: Lease',
      'metadata:',
      '  name: sandbox',
      'spec:',
      '  project: web',
      '  ttl: 30m',
      '',
    ].join('\n');
    const applied = await inject({
      method: 'POST',
      url: '/apply',
      headers: { 'content-type': 'application/yaml' },
      payload: lease,
    });
    expect(applied.statusCode, applied.body).toBe(200);
  });

  afterAll(async () => {
    await app?.close();
    await store?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("streams a lease container's lines over a WebSocket with heartbeats, and closes with 4410 when it is gone", async () => {
    const uid = store.get('Lease', 'sandbox')!.metadata.uid!;
    const id = await run({ kind: 'Lease', name: 'sandbox', uid }, WAIT_FOR_GO);
    const plain = await fetch(`http://${server}/api/v1alpha1/leases/sandbox/log`, { headers: AUTHORIZATION });
    expect(plain.status).toBe(200);
    expect(await plain.text()).toMatch(/^\d{4}-\d\d-\d\dT[^ ]+Z ready\n$/);

    const ws = new WebSocket(`ws://${server}/api/v1alpha1/leases/sandbox/log?follow=true&tail=0`, {
      headers: AUTHORIZATION,
    });
    const messages: Array<{ type: string; line?: string; reason?: string }> = [];
    ws.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString()) as { type: string }));
    const closed = new Promise<number>((resolve) => ws.on('close', (code: number) => resolve(code)));
    await new Promise((resolve) => ws.once('open', resolve));
    // Idle for several heartbeat intervals: the socket stays open and hears heartbeats.
    await eventually(
      async () => messages.filter((message) => message.type === 'heartbeat').length >= 3,
      10_000,
      'three heartbeats',
    );
    expect(ws.readyState).toBe(WebSocket.OPEN);
    await exec(id, ['/bin/busybox', 'touch', '/go']);
    await eventually(
      async () => messages.some((message) => message.type === 'line'),
      10_000,
      'the line over the WebSocket',
    );
    expect(messages.filter((message) => message.type === 'line').map((message) => message.line)).toEqual(['later']);
    await runtime.remove(id);
    expect(await closed).toBe(LOG_CLOSE_CODES['container-gone']);
    expect(messages.at(-1)).toMatchObject({ type: 'end', reason: 'container-gone' });
  });
});
