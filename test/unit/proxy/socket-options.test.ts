import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net, { type AddressInfo, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ProxyServer } from '../../../src/proxy/proxy-server.js';
import type { CertificatePem } from '../../../src/proxy/tls/certificate.js';
import { TlsProxy } from '../../../src/proxy/tls/tls-proxy.js';
import { silentLogger } from '../../../src/util/logger.js';
import { makeCertificate } from '../../support/certificates.js';

// The guard against the 44 ms of issue 18: every socket the proxy accepts, on every
// listener and protocol, and every connection it opens to a target, on both of its
// forwarding paths, has Nagle's algorithm off. A socket left with it on costs a kept-alive
// request the client's delayed ACK (40 ms) whenever a response goes out in two writes.
// Node cannot read TCP_NODELAY back, so setNoDelay is watched: the sockets it was called
// on (with true) are matched by port with the connections the clients and the backend see.

const HOST = 'app.test';
const noDelaySockets = new Set<Socket>();
const cleanups: Array<() => Promise<void> | void> = [];

beforeAll(() => {
  const original = net.Socket.prototype.setNoDelay;
  vi.spyOn(net.Socket.prototype, 'setNoDelay').mockImplementation(function (this: Socket, noDelay?: boolean) {
    if (noDelay !== false) noDelaySockets.add(this);
    else noDelaySockets.delete(this);
    return original.call(this, noDelay);
  });
});
afterAll(() => vi.restoreAllMocks());
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  noDelaySockets.clear();
});

/** A backend that notes the client port of every connection made to it. */
async function startBackend(): Promise<{ address: string; clientPorts: number[] }> {
  const clientPorts: number[] = [];
  const server = http.createServer((_req, res) => res.end('ok'));
  server.keepAliveTimeout = 60_000;
  server.on('connection', (socket: Socket) => clientPorts.push(socket.remotePort ?? -1));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, clientPorts };
}

interface Proxy {
  port: number;
  httpsPort: number;
  ca: string;
  /** The client ports of the proxy's connections to the target, as the target saw them. */
  upstreamPorts: number[];
}

async function startProxy(fastPath: boolean): Promise<Proxy> {
  const backend = await startBackend();
  const tlsDir = await mkdtemp(path.join(os.tmpdir(), 'luma-socket-options-'));
  const proxy = new ProxyServer({ fastPath });
  let pem: CertificatePem | undefined;
  const tls = new TlsProxy(proxy, {
    tlsDir,
    acmeDirectory: 'https://acme.invalid/dir',
    logger: silentLogger(),
    issuer: {
      issue: async (host) =>
        (pem = await makeCertificate({
          hosts: [host],
          notBefore: Date.now() - 60_000,
          notAfter: Date.now() + 86_400_000,
        })),
    },
  });
  tls.setHooks({ wake: () => undefined });
  const { port } = await proxy.listen('127.0.0.1', 0);
  const httpsPort = (await tls.listen('127.0.0.1', 0)).port;
  cleanups.push(async () => {
    await tls.close();
    await rm(tlsDir, { recursive: true, force: true });
  });
  await tls.deploy({ service: 'web', hosts: [HOST], targets: [backend.address], tls: true });
  await tls.certificates.settled();
  return { port, httpsPort, ca: (pem as CertificatePem).certPem, upstreamPorts: backend.clientPorts };
}

/** One request on a connection kept open (the check needs both ends alive); its local port. */
function http1Get(port: number, secure?: { ca: string }): Promise<number> {
  return new Promise((resolve, reject) => {
    const options = { host: '127.0.0.1', port, path: '/', headers: { host: HOST }, timeout: 10_000 };
    const agent = secure ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
    cleanups.push(() => agent.destroy());
    const req = secure
      ? https.get({ ...options, agent, servername: HOST, ca: secure.ca }, onResponse)
      : http.get({ ...options, agent }, onResponse);
    function onResponse(res: http.IncomingMessage): void {
      const localPort = res.socket.localPort ?? -1;
      res.resume();
      res.on('end', () => resolve(localPort));
    }
    req.on('error', reject);
  });
}

function http2Get(port: number, ca: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { servername: HOST, ca });
    cleanups.push(() => void session.destroy());
    session.on('error', reject);
    const stream = session.request({ ':path': '/', ':authority': HOST });
    stream.on('error', reject);
    stream.resume();
    stream.on('end', () => resolve(session.socket.localPort ?? -1));
  });
}

function expectNoDelay(clientPort: number, side: 'accepted' | 'upstream'): void {
  const matching = [...noDelaySockets].filter((socket) =>
    side === 'accepted' ? socket.remotePort === clientPort : socket.localPort === clientPort,
  );
  expect(matching.length, `${side} socket of client port ${clientPort} without setNoDelay(true)`).toBeGreaterThan(0);
}

describe.each([
  { name: 'fast path on', fastPath: true },
  { name: 'fast path off (node:http and undici)', fastPath: false },
])('Nagle is off on every socket, $name', ({ fastPath }) => {
  const cases: Array<{ name: string; request: (proxy: Proxy) => Promise<number> }> = [
    { name: 'plain HTTP/1.1', request: ({ port }) => http1Get(port) },
    { name: 'HTTP/1.1 over TLS', request: ({ httpsPort, ca }) => http1Get(httpsPort, { ca }) },
    { name: 'HTTP/2', request: ({ httpsPort, ca }) => http2Get(httpsPort, ca) },
  ];
  for (const { name, request } of cases) {
    it(`${name}: the accepted socket and the connection to the target`, async () => {
      const proxy = await startProxy(fastPath);
      const clientPort = await request(proxy);
      expectNoDelay(clientPort, 'accepted');
      expect(proxy.upstreamPorts.length).toBeGreaterThan(0);
      for (const upstreamPort of proxy.upstreamPorts) expectNoDelay(upstreamPort, 'upstream');
    });
  }
});
