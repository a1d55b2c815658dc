import { rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../../../src/proxy/management.js';
import { tempDir } from '../../support/luma.js';
import {
  largeResponse,
  proxyCli,
  startBackend,
  startProxy,
  type Backend,
  type ProxyProcess,
} from '../../support/proxy.js';
import { rawExchange, stopReading } from '../../support/raw-http.js';

// Every stage of a client connection has a deadline, on the plain listener of
// `luma proxy run`, whichever parser reads the request (the fast path, or node:http with
// --no-fast-path): a body that stops arriving (after the proxy's own 404, or on its way to
// an app), a client that stops reading its response, an idle keep-alive connection, an
// app that never answers a WebSocket upgrade.
// Deadlines of one second; a stage is cut within its deadline plus the sweep (a quarter of
// it) and a margin for a busy machine, and long before the 5 s the client waits. And the
// cap on open connections refuses the one past it, at once, while the others keep working.

const DEADLINE = '1s';
/** The deadline, a quarter more for the check, and a margin for a 2-core machine under load. */
const CUT_WITHIN_MS = 2_500;
const CLIENT_PATIENCE_MS = 5_000;

interface Upload {
  url: string;
  bytes: number;
  complete: boolean;
}

const head = (lines: string[], body = ''): string => `${lines.join('\r\n')}\r\n\r\n${body}`;

async function serviceInfo(stateDir: string, service: string): Promise<ServiceInfo> {
  const result = await proxyCli(['get-service', service, '--state-dir', stateDir]);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as ServiceInfo;
}

async function deploy(stateDir: string, service: string, host: string, backend: Backend): Promise<void> {
  const deployed = await proxyCli([
    'deploy',
    service,
    '--host',
    host,
    '--target',
    backend.address,
    '--skip-health-check',
    '--state-dir',
    stateDir,
  ]);
  expect(deployed.code, deployed.stderr).toBe(0);
}

describe.each([
  { path: 'the fast path', args: [] as string[] },
  { path: 'node:http (--no-fast-path)', args: ['--no-fast-path'] },
])('deadlines of `luma proxy run` on $path', ({ args }) => {
  let dir: string;
  let stateDir: string;
  let proxy: ProxyProcess;
  let app: Backend;
  let mute: Backend;
  let large: Backend;
  let uploads: Upload[] = [];

  beforeAll(async () => {
    dir = await tempDir('deadlines');
    stateDir = path.join(dir, 'state');
    const limits = [
      '--headers-timeout',
      DEADLINE,
      '--body-timeout',
      DEADLINE,
      '--keep-alive-timeout',
      DEADLINE,
      '--upgrade-timeout',
      DEADLINE,
      '--send-timeout',
      DEADLINE,
    ];
    proxy = await startProxy({ stateDir, args: [...limits, ...args] });
    app = await startBackend((req, res) => {
      const upload: Upload = { url: req.url ?? '', bytes: 0, complete: false };
      uploads.push(upload);
      req.on('data', (chunk: Buffer) => (upload.bytes += chunk.length));
      req.on('end', () => {
        upload.complete = true;
        res.end(`got ${upload.bytes}\n`);
      });
    });
    // An app that accepts the upgrade request and never answers it (it closes its side
    // when the proxy gives up: node:http's sockets are half-open otherwise).
    mute = await startBackend((_req, res) => res.end('ok\n'));
    mute.server.on('upgrade', (_req, socket: net.Socket) => {
      socket.on('error', () => undefined);
      socket.once('end', () => socket.destroy());
      socket.resume();
    });
    large = await startBackend(largeResponse);
    await deploy(stateDir, 'app', 'app.localhost', app);
    await deploy(stateDir, 'mute', 'mute.localhost', mute);
    await deploy(stateDir, 'large', 'large.localhost', large);
  });

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all([app?.close(), mute?.close(), large?.close()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('a client that stops reading a response is cut off within the send timeout, and the app is let go', async () => {
    const socket = net.connect(proxy.port, '127.0.0.1');
    try {
      const client = stopReading(socket, head(['GET /large HTTP/1.1', 'Host: large.localhost']));
      // The response fills the socket buffers within moments; from then on the proxy waits on the client.
      await expect
        .poll(async () => (await serviceInfo(stateDir, 'large')).activity.inFlight, { timeout: 2_000 })
        .toBe(1);
      const waitingSince = performance.now();
      await expect
        .poll(async () => (await serviceInfo(stateDir, 'large')).activity.inFlight, { timeout: CLIENT_PATIENCE_MS })
        .toBe(0);
      expect(performance.now() - waitingSince).toBeLessThan(CUT_WITHIN_MS + 500);
      // What the kernels held comes through, then the connection ends short of the 64 MiB.
      expect(await client.readOn()).toBeLessThan(64 * 1024 * 1024);
    } finally {
      socket.destroy();
    }
  });

  it('a body that stalls after the proxy answered 404 itself is cut off within the body timeout', async () => {
    const answer = await rawExchange(
      proxy.port,
      head(['POST /nowhere HTTP/1.1', 'Host: nobody.localhost', 'Content-Length: 100'], 'abc'),
      { idleMs: CLIENT_PATIENCE_MS },
    );
    expect(answer.statuses, answer.raw.slice(0, 200)).toEqual([404]);
    expect(answer.closed, 'the proxy closed the connection').toBe(true);
    expect(answer.elapsedMs).toBeLessThan(CUT_WITHIN_MS);
  });

  it('an upload to an app that stalls mid-body is cut off within the body timeout, and the app sees it aborted', async () => {
    uploads = [];
    const answer = await rawExchange(
      proxy.port,
      head(['POST /stalled HTTP/1.1', 'Host: app.localhost', 'Content-Length: 1000'], 'x'.repeat(10)),
      { idleMs: CLIENT_PATIENCE_MS },
    );
    expect(answer.closed, answer.raw.slice(0, 200)).toBe(true);
    expect(answer.statuses).not.toContain(200);
    expect(answer.elapsedMs).toBeLessThan(CUT_WITHIN_MS);
    await expect.poll(() => uploads.map((upload) => upload.complete), { timeout: 2_000 }).toEqual([false]);
    await expect.poll(async () => (await serviceInfo(stateDir, 'app')).activity.inFlight, { timeout: 3_000 }).toBe(0);
  });

  it('a slow upload that keeps moving passes, however long it takes in all', async () => {
    uploads = [];
    const body = 'y'.repeat(12);
    const request = head(
      ['POST /slow HTTP/1.1', 'Host: app.localhost', `Content-Length: ${body.length}`, 'Connection: close'],
      body,
    );
    // One byte every 300 ms: 3.6 s in all, more than three body timeouts, never a second without a byte.
    const answer = await rawExchange(proxy.port, request, {
      dribbleAfter: request.length - body.length,
      dribbleBytes: 1,
      dribbleMs: 300,
      idleMs: CLIENT_PATIENCE_MS,
    });
    expect(answer.statuses, answer.raw.slice(0, 200)).toEqual([200]);
    expect(answer.raw).toContain(`got ${body.length}`);
    expect(answer.elapsedMs).toBeGreaterThan(3_000);
    expect(uploads).toEqual([{ url: '/slow', bytes: body.length, complete: true }]);
  });

  it('a keep-alive connection with no request under way is closed after the keep-alive timeout', async () => {
    const answer = await rawExchange(proxy.port, head(['GET /once HTTP/1.1', 'Host: app.localhost']), {
      idleMs: CLIENT_PATIENCE_MS,
    });
    expect(answer.statuses, answer.raw.slice(0, 200)).toEqual([200]);
    expect(answer.closed, 'the proxy closed the idle connection').toBe(true);
    expect(answer.elapsedMs).toBeLessThan(CUT_WITHIN_MS);
  });

  it('an app that never answers a WebSocket upgrade gets the client a 504 within the upgrade timeout, and releases the in-flight count', async () => {
    const upgrade = head([
      'GET /socket HTTP/1.1',
      'Host: mute.localhost',
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version: 13',
    ]);
    const answer = await rawExchange(proxy.port, upgrade, { idleMs: CLIENT_PATIENCE_MS });
    expect(answer.statuses, answer.raw.slice(0, 200)).toEqual([504]);
    expect(answer.closed).toBe(true);
    expect(answer.elapsedMs).toBeLessThan(CUT_WITHIN_MS);
    expect((await serviceInfo(stateDir, 'mute')).activity.inFlight).toBe(0);
  });
});

/** Connects and resolves once connected, with a promise of when (ms after connecting) the server closed it. */
async function openConnection(port: number): Promise<{ socket: net.Socket; closed: Promise<number> }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  const connectedAt = performance.now();
  return {
    socket,
    closed: new Promise((resolve) => socket.once('close', () => resolve(performance.now() - connectedAt))),
  };
}

describe('the cap on open connections of `luma proxy run` (--max-connections 3)', () => {
  const MAX = 3;
  let dir: string;
  let proxy: ProxyProcess;
  let app: Backend;
  const sockets: net.Socket[] = [];

  beforeAll(async () => {
    dir = await tempDir('max-connections');
    proxy = await startProxy({ stateDir: path.join(dir, 'state'), args: ['--max-connections', String(MAX)] });
    app = await startBackend((_req, res) => res.end('app\n'));
    await deploy(path.join(dir, 'state'), 'app', 'app.localhost', app);
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await proxy?.stop();
    await app?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('closes the connection past the cap at once, while the first ones keep working; a closed one frees its place', async () => {
    const first = await Promise.all(Array.from({ length: MAX }, () => openConnection(proxy.port)));
    sockets.push(...first.map((connection) => connection.socket));
    const extra = await openConnection(proxy.port);
    sockets.push(extra.socket);
    expect(await extra.closed, 'refused at once, not accepted and starved').toBeLessThan(500);

    for (const { socket } of first) {
      const answered = new Promise<string>((resolve) =>
        socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1'))),
      );
      socket.write(head(['GET / HTTP/1.1', 'Host: app.localhost']));
      expect(await answered).toMatch(/^HTTP\/1\.1 200 /);
    }

    first[0]?.socket.destroy();
    await first[0]?.closed;
    await expect
      .poll(
        async () =>
          (
            await rawExchange(proxy.port, head(['GET / HTTP/1.1', 'Host: app.localhost', 'Connection: close']), {
              idleMs: 2_000,
            })
          ).status,
        { timeout: 3_000 },
      )
      .toBe(200);
  });
});
