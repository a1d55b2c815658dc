import { mkdir, rm, writeFile } from 'node:fs/promises';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceInfo } from '../../../src/proxy/management.js';
import { makeCertificate } from '../../support/certificates.js';
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

// The HTTPS listener of `luma proxy run` honours the same deadlines as the plain one
// (Node's HTTP/2 server would keep its own: 60 s heads, a 300 s total per request, no
// keep-alive or HTTP/2 idle timeout). A certificate made here is given through
// --certificates-dir, so nothing is ordered. Deadlines of one second.

const HOST = 'app.test';
const DEADLINE = '1s';
const CUT_WITHIN_MS = 2_500;
const CLIENT_PATIENCE_MS = 5_000;

const head = (lines: string[], body = ''): string => `${lines.join('\r\n')}\r\n\r\n${body}`;

describe('deadlines of the HTTPS listener of `luma proxy run`', () => {
  let dir: string;
  let stateDir: string;
  let proxy: ProxyProcess;
  let httpsPort: number;
  let app: Backend;
  let ca: string;

  beforeAll(async () => {
    dir = await tempDir('https-deadlines');
    stateDir = path.join(dir, 'state');
    const certificatesDir = path.join(dir, 'certificates');
    const pem = await makeCertificate({
      hosts: [HOST],
      notBefore: Date.now() - 60_000,
      notAfter: Date.now() + 86_400_000,
    });
    ca = pem.certPem;
    await mkdir(certificatesDir, { recursive: true });
    await writeFile(path.join(certificatesDir, `${HOST}.crt`), pem.certPem);
    await writeFile(path.join(certificatesDir, `${HOST}.key`), pem.keyPem, { mode: 0o600 });
    const limits = [
      '--headers-timeout',
      DEADLINE,
      '--body-timeout',
      DEADLINE,
      '--keep-alive-timeout',
      DEADLINE,
      '--http2-idle-timeout',
      DEADLINE,
      '--send-timeout',
      DEADLINE,
    ];
    proxy = await startProxy({
      stateDir,
      args: ['--https-listen', '127.0.0.1:0', '--certificates-dir', certificatesDir, ...limits],
    });
    httpsPort = proxy.httpsPort ?? 0;
    app = await startBackend((req, res) => {
      if (req.url === '/large') return largeResponse(req, res);
      req.resume();
      req.on('end', () => res.end('app\n'));
    });
    const deployed = await proxyCli([
      'deploy',
      'app',
      '--host',
      HOST,
      '--target',
      app.address,
      '--tls',
      '--skip-health-check',
      '--state-dir',
      stateDir,
    ]);
    expect(deployed.code, deployed.stderr).toBe(0);
    const certificateState = async (): Promise<string | undefined> => {
      const info = JSON.parse((await proxyCli(['get-service', 'app', '--state-dir', stateDir])).stdout) as ServiceInfo;
      return info.certificates?.[0]?.state;
    };
    // Bounded: the provided certificate is read when the host is declared, in well under a second.
    for (let attempt = 0; attempt < 100 && (await certificateState()) !== 'Ready'; attempt++)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await certificateState()).toBe('Ready');
  });

  afterAll(async () => {
    await proxy?.stop();
    await app?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const overTls = {
    servername: HOST,
    get ca() {
      return ca;
    },
  };
  const inFlight = async (): Promise<number> =>
    (JSON.parse((await proxyCli(['get-service', 'app', '--state-dir', stateDir])).stdout) as ServiceInfo).activity
      .inFlight;

  it('a connection that never starts its TLS handshake is closed after the headers timeout', async () => {
    const answer = await rawExchange(httpsPort, '', { idleMs: CLIENT_PATIENCE_MS });
    expect(answer.closed).toBe(true);
    expect(answer.elapsedMs).toBeLessThan(CUT_WITHIN_MS);
  });

  it('HTTP/1.1 over TLS: a head dribbled a byte at a time is cut off after --headers-timeout, not Node’s 60 s', async () => {
    const request = head(['GET /slow HTTP/1.1', `Host: ${HOST}`, `X-Pad: ${'a'.repeat(200)}`]);
    const answer = await rawExchange(httpsPort, request, {
      tls: overTls,
      dribbleBytes: 1,
      dribbleMs: 100,
      idleMs: CLIENT_PATIENCE_MS,
    });
    expect(answer.closed, answer.raw.slice(0, 200)).toBe(true);
    expect([undefined, 408]).toContain(answer.status);
    expect(answer.elapsedMs).toBeLessThan(CUT_WITHIN_MS + 500);
  });

  it('HTTP/1.1 over TLS: a body that stalls after the proxy answered 404 itself is cut off within the body timeout', async () => {
    const answer = await rawExchange(
      httpsPort,
      head(['POST /nowhere HTTP/1.1', 'Host: nobody.localhost', 'Content-Length: 100'], 'abc'),
      { tls: overTls, idleMs: CLIENT_PATIENCE_MS },
    );
    expect(answer.statuses, answer.raw.slice(0, 200)).toEqual([404]);
    expect(answer.closed).toBe(true);
    expect(answer.elapsedMs).toBeLessThan(CUT_WITHIN_MS);
  });

  it('HTTP/1.1 over TLS: a keep-alive connection with no request under way is closed after the keep-alive timeout', async () => {
    const answer = await rawExchange(httpsPort, head(['GET /once HTTP/1.1', `Host: ${HOST}`]), {
      tls: overTls,
      idleMs: CLIENT_PATIENCE_MS,
    });
    expect(answer.statuses, answer.raw.slice(0, 200)).toEqual([200]);
    expect(answer.closed).toBe(true);
    expect(answer.elapsedMs).toBeLessThan(CUT_WITHIN_MS + 500);
  });

  it('HTTP/1.1 over TLS: a client that stops reading a response is cut off within the send timeout', async () => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port: httpsPort,
      servername: HOST,
      ca,
      ALPNProtocols: ['http/1.1'],
    });
    try {
      const client = stopReading(socket, head(['GET /large HTTP/1.1', `Host: ${HOST}`]));
      await expect.poll(inFlight, { timeout: 2_000 }).toBe(1);
      const waitingSince = performance.now();
      await expect.poll(inFlight, { timeout: CLIENT_PATIENCE_MS }).toBe(0);
      expect(performance.now() - waitingSince).toBeLessThan(CUT_WITHIN_MS + 500);
      expect(await client.readOn()).toBeLessThan(64 * 1024 * 1024);
    } finally {
      socket.destroy();
    }
  });

  it('HTTP/2: a stream whose client never reads (no WINDOW_UPDATE) is reset within the send timeout', async () => {
    const session = http2.connect(`https://127.0.0.1:${httpsPort}`, { servername: HOST, ca });
    session.on('error', () => undefined);
    try {
      const stream = session.request({ ':path': '/large', ':authority': HOST });
      stream.on('error', () => undefined);
      stream.pause();
      const sentAt = performance.now();
      const closedAfter = await Promise.race([
        new Promise<number>((resolve) => stream.once('close', () => resolve(performance.now() - sentAt))),
        sleep(CLIENT_PATIENCE_MS).then(() => Infinity),
      ]);
      expect(closedAfter).toBeLessThan(CUT_WITHIN_MS + 500);
      // CANCEL, not NO_ERROR: a client that is not reading takes NO_ERROR as an end still to come.
      expect(stream.rstCode).toBe(http2.constants.NGHTTP2_CANCEL);
      await expect.poll(inFlight, { timeout: 3_000 }).toBe(0);
    } finally {
      session.destroy();
    }
  });

  it('HTTP/2: a session with no stream open is closed (GOAWAY) after --http2-idle-timeout; a stalled request body is cut alone', async () => {
    const session = http2.connect(`https://127.0.0.1:${httpsPort}`, { servername: HOST, ca });
    session.on('error', () => undefined);
    const closed = new Promise<number>((resolve) => session.once('close', () => resolve(performance.now())));

    // A body that stalls: its stream is reset within the body timeout, the session lives on.
    const stalled = session.request({
      ':method': 'POST',
      ':path': '/stalled',
      ':authority': HOST,
      'content-length': '1000',
    });
    stalled.on('error', () => undefined);
    stalled.write('x'.repeat(10));
    const streamStartedAt = performance.now();
    const streamClosedAfter = await new Promise<number>((resolve) =>
      stalled.once('close', () => resolve(performance.now() - streamStartedAt)),
    );
    expect(streamClosedAfter).toBeLessThan(CUT_WITHIN_MS);
    expect(stalled.rstCode, 'reset by the proxy').toBe(http2.constants.NGHTTP2_CANCEL);

    const lastStreamEndedAt = await new Promise<number>((resolve, reject) => {
      const stream = session.request({ ':path': '/', ':authority': HOST });
      stream.on('response', (headers) => expect(headers[':status']).toBe(200));
      stream.on('error', reject);
      stream.resume();
      stream.on('end', () => resolve(performance.now()));
    });
    const closedAt = await closed;
    expect(closedAt - lastStreamEndedAt).toBeGreaterThan(500);
    expect(closedAt - lastStreamEndedAt).toBeLessThan(CUT_WITHIN_MS);
  });
});

// Kept apart: the cap counts connections of both listeners together.
describe('the cap on open connections counts the HTTPS listener too (--max-connections 2)', () => {
  let dir: string;
  let proxy: ProxyProcess;
  const sockets: net.Socket[] = [];

  beforeAll(async () => {
    dir = await tempDir('https-cap');
    proxy = await startProxy({
      stateDir: path.join(dir, 'state'),
      args: ['--https-listen', '127.0.0.1:0', '--max-connections', '2'],
    });
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await proxy?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('one plain and one HTTPS connection fill it: a third, on either listener, is closed at once', async () => {
    const connect = (port: number): Promise<net.Socket> =>
      new Promise((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
        socket.on('error', () => undefined);
        sockets.push(socket);
      });
    await connect(proxy.port);
    await connect(proxy.httpsPort ?? 0);
    // A client's connect completes before the proxy has taken the connection: let it.
    await new Promise((resolve) => setTimeout(resolve, 200));
    for (const port of [proxy.port, proxy.httpsPort ?? 0]) {
      const third = await connect(port);
      const openedAt = performance.now();
      await new Promise((resolve) => third.once('close', resolve));
      expect(performance.now() - openedAt).toBeLessThan(500);
    }
  });
});
