import http, { type IncomingHttpHeaders } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import tlsClient from 'node:tls';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DeployRequest } from '../../../../src/proxy/management.js';
import { ProxyServer } from '../../../../src/proxy/proxy-server.js';
import { AcmeError, type CertificateIssuer } from '../../../../src/proxy/tls/acme-issuer.js';
import type { CertificatePem } from '../../../../src/proxy/tls/certificate.js';
import { TlsProxy } from '../../../../src/proxy/tls/tls-proxy.js';
import { silentLogger } from '../../../../src/util/logger.js';
import { makeCertificate } from '../../../support/certificates.js';
import { request } from '../../../support/luma.js';
import { httpsGet, http2Get, tlsHandshake } from '../../../support/tls.js';

// The TLS layer in-process, in front of a real ProxyServer and loopback backends, with a
// CA that issues self-signed certificates (each one its own trust anchor for the client).

const HOST = 'app.test';
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

class SelfSigningIssuer implements CertificateIssuer {
  readonly orders: string[] = [];
  readonly issued = new Map<string, CertificatePem>();
  failWith: Error | undefined;

  async issue(host: string): Promise<CertificatePem> {
    this.orders.push(host);
    if (this.failWith) throw this.failWith;
    const pem = await makeCertificate({
      hosts: [host],
      notBefore: Date.now() - 60_000,
      notAfter: Date.now() + 86_400_000,
    });
    this.issued.set(host, pem);
    return pem;
  }
}

interface Backend {
  address: string;
  seen: Array<{ headers: IncomingHttpHeaders; url: string; body: string }>;
}

async function startBackend(): Promise<Backend> {
  const seen: Backend['seen'] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      seen.push({ headers: req.headers, url: req.url ?? '', body });
      res.end(`backend saw ${req.method} ${req.url} ${body}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

async function startTls(): Promise<{
  tls: TlsProxy;
  issuer: SelfSigningIssuer;
  httpPort: number;
  httpsPort: number;
  changed: string[];
  backend: Backend;
  deploy: (request?: Partial<DeployRequest>) => Promise<void>;
}> {
  const tlsDir = await mkdtemp(path.join(os.tmpdir(), 'luma-tls-unit-'));
  const proxy = new ProxyServer();
  const issuer = new SelfSigningIssuer();
  const tls = new TlsProxy(proxy, {
    tlsDir,
    acmeDirectory: 'https://acme.invalid/dir',
    logger: silentLogger(),
    issuer,
  });
  const changed: string[] = [];
  tls.setHooks({ wake: () => undefined, certificateChanged: (service) => changed.push(service) });
  const httpPort = (await proxy.listen('127.0.0.1', 0)).port;
  const httpsPort = (await tls.listen('127.0.0.1', 0)).port;
  cleanups.push(async () => {
    await tls.close();
    await rm(tlsDir, { recursive: true, force: true });
  });
  const backend = await startBackend();
  const deploy = async (request: Partial<DeployRequest> = {}): Promise<void> => {
    await tls.deploy({
      service: 'web',
      hosts: [HOST],
      targets: [backend.address],
      tls: true,
      sslRedirect: true,
      ...request,
    });
    await tls.certificates.settled();
  };
  return { tls, issuer, httpPort, httpsPort, changed, backend, deploy };
}

function post2(port: number, host: string, ca: string, body: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://127.0.0.1:${port}`, { servername: host, ca });
    session.on('error', reject);
    // No content-length: the body is framed by HTTP/2 alone.
    const stream = session.request({ ':method': 'POST', ':path': '/upload', ':authority': host });
    let answer = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (answer += chunk));
    stream.on('end', () => {
      session.close();
      resolve(answer);
    });
    stream.on('error', reject);
    for (const part of body) stream.write(part);
    stream.end();
  });
}

describe('TlsProxy: HTTPS', () => {
  it('serves the certificate of the handshake’s name, over HTTP/1.1 and HTTP/2, with X-Forwarded-Proto https', async () => {
    const { issuer, httpsPort, deploy, backend } = await startTls();
    await deploy();
    const ca = issuer.issued.get(HOST)!.certPem;
    const h1 = await httpsGet(httpsPort, HOST, ca, '/page');
    expect(h1).toMatchObject({ status: 200, body: 'backend saw GET /page ', protocol: 'HTTP/1.1' });
    const h2 = await http2Get(httpsPort, HOST, ca, '/h2');
    expect(h2).toMatchObject({ status: 200, body: 'backend saw GET /h2 ', protocol: 'ALPN h2' });
    expect(backend.seen.map((request) => request.headers['x-forwarded-proto'])).toEqual(['https', 'https']);
    // An HTTP/1.1 upstream sees a Host header and no HTTP/2 pseudo-headers.
    expect(backend.seen[1]?.headers.host).toBe(HOST);
    expect(Object.keys(backend.seen[1]?.headers ?? {}).some((name) => name.startsWith(':'))).toBe(false);
  });

  it('forwards an HTTP/2 request body that has no content-length', async () => {
    const { issuer, httpsPort, deploy } = await startTls();
    await deploy();
    expect(await post2(httpsPort, HOST, issuer.issued.get(HOST)!.certPem, ['part one, ', 'part two'])).toBe(
      'backend saw POST /upload part one, part two',
    );
  });

  it('refuses the handshake for a name without a certificate and orders nothing for it', async () => {
    const { tls, issuer, httpsPort, deploy } = await startTls();
    await deploy();
    const stranger = await tlsHandshake(httpsPort, 'stranger.test', issuer.issued.get(HOST)!.certPem);
    expect(stranger.serial).toBeUndefined();
    expect(stranger.error).toBeDefined();
    await tls.certificates.settled();
    expect(issuer.orders).toEqual([HOST]);
  });

  it('resumes sessions: a client that offers the ticket of its last connection skips the full handshake', async () => {
    const { issuer, httpsPort, deploy } = await startTls();
    await deploy();
    const ca = issuer.issued.get(HOST)!.certPem;
    const first = await getOverTls(httpsPort, ca, undefined);
    expect(first.reused).toBe(false);
    expect(first.ticket).toBeDefined();
    const second = await getOverTls(httpsPort, ca, first.ticket);
    expect(second).toMatchObject({ reused: true, answer: expect.stringMatching(/^HTTP\/1\.1 200 /) });
  });

  it('picks AES-128-GCM over the AES-256 a client lists first, and ChaCha20 for a client that lists it first', async () => {
    const { issuer, httpsPort, deploy } = await startTls();
    await deploy();
    const ca = issuer.issued.get(HOST)!.certPem;
    // Node's own default order, which every common client shares: AES-256 first.
    expect(await negotiatedCipher(httpsPort, ca, tlsClient.DEFAULT_CIPHERS)).toBe('TLS_AES_128_GCM_SHA256');
    const chachaFirst = 'TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256';
    expect(await negotiatedCipher(httpsPort, ca, chachaFirst)).toBe('TLS_CHACHA20_POLY1305_SHA256');
    // TLS 1.2 clients get the ECDSA certificate's AES-128-GCM suite.
    expect(await negotiatedCipher(httpsPort, ca, tlsClient.DEFAULT_CIPHERS, 'TLSv1.2')).toBe(
      'ECDHE-ECDSA-AES128-GCM-SHA256',
    );
  });
});

/** One GET over TLS with Connection: close, offering `session`; whether it was resumed, and the ticket it got. */
function getOverTls(
  port: number,
  ca: string,
  session: Buffer | undefined,
): Promise<{ reused: boolean; ticket: Buffer | undefined; answer: string }> {
  return new Promise((resolve, reject) => {
    const socket = tlsClient.connect({
      host: '127.0.0.1',
      port,
      servername: HOST,
      ca,
      ...(session ? { session } : {}),
    });
    let ticket: Buffer | undefined;
    let answer = '';
    socket.on('session', (received: Buffer) => (ticket = received));
    socket.once('secureConnect', () => socket.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.once('end', () => resolve({ reused: socket.isSessionReused(), ticket, answer }));
    socket.once('error', reject);
  });
}

/** The cipher suite a handshake offering `ciphers` (in that order) settles on. */
function negotiatedCipher(port: number, ca: string, ciphers: string, maxVersion?: 'TLSv1.2'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsClient.connect({ host: '127.0.0.1', port, servername: HOST, ca, ciphers, maxVersion });
    socket.once('secureConnect', () => {
      resolve(socket.getCipher().name);
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

describe('TlsProxy: WebSocket over TLS', () => {
  it('hands HTTP/1.1 upgrades on the HTTPS listener to the proxy, which splices them to the target', async () => {
    const upstream = http.createServer((_req, res) => res.end('plain'));
    upstream.on('upgrade', (req: http.IncomingMessage, socket: Socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
      socket.on('data', (data) =>
        socket.write(`echo:${String(data)}|proto=${String(req.headers['x-forwarded-proto'])}`),
      );
      socket.on('end', () => socket.end());
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          upstream.close(() => resolve());
          upstream.closeAllConnections();
        }),
    );
    const { issuer, httpsPort, deploy } = await startTls();
    await deploy({ targets: [`127.0.0.1:${(upstream.address() as AddressInfo).port}`] });
    const socket = tlsClient.connect({
      host: '127.0.0.1',
      port: httpsPort,
      servername: HOST,
      ca: issuer.issued.get(HOST)!.certPem,
      ALPNProtocols: ['http/1.1'],
    });
    cleanups.push(async () => void socket.destroy());
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.includes('\r\n\r\n') && !received.includes('echo:')) socket.write('ping');
    });
    socket.write(`GET /ws HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`);
    await new Promise<void>((resolve, reject) => {
      socket.on('data', () => received.includes('echo:ping') && resolve());
      socket.on('error', reject);
    });
    expect(received).toMatch(/^HTTP\/1\.1 101 /);
    expect(received).toContain('echo:ping|proto=https');
  });
});

describe('TlsProxy: plain HTTP', () => {
  it('redirects to HTTPS with path and query once the host has a certificate', async () => {
    const { httpPort, httpsPort, deploy } = await startTls();
    await deploy();
    const answer = await request(httpPort, HOST, '/a/b?c=1');
    expect(answer.status).toBe(301);
    expect(answer.headers.location).toBe(`https://${HOST}:${httpsPort}/a/b?c=1`);
  });

  it('answers an ACME challenge of an order in progress and never redirects the challenge path', async () => {
    const { tls, httpPort, deploy, backend } = await startTls();
    await deploy();
    tls.challenges.add('token-1', 'token-1.thumbprint');
    const known = await request(httpPort, HOST, '/.well-known/acme-challenge/token-1');
    expect(known).toMatchObject({ status: 200, body: 'token-1.thumbprint' });
    // Any host: the CA asks for the name being validated, which may not be routed yet.
    expect((await request(httpPort, 'not-routed.test', '/.well-known/acme-challenge/token-1')).body).toBe(
      'token-1.thumbprint',
    );
    const unknown = await request(httpPort, HOST, '/.well-known/acme-challenge/other');
    expect(unknown.status).toBe(200);
    expect(unknown.body).toBe('backend saw GET /.well-known/acme-challenge/other ');
    expect(backend.seen).toHaveLength(1);
  });

  it('keeps serving plain HTTP while there is no certificate, and for services that do not ask for a redirect', async () => {
    const { issuer, httpPort, deploy } = await startTls();
    issuer.failWith = new AcmeError('AcmeRefused', 'the ACME server refused: no');
    await deploy();
    expect((await request(httpPort, HOST, '/')).status).toBe(200);
    issuer.failWith = undefined;
    await deploy({ service: 'plain', hosts: ['plain.test'], sslRedirect: false });
    expect((await request(httpPort, 'plain.test', '/')).status).toBe(200);
  });
});

describe('TlsProxy: management', () => {
  it('reports certificate states on the service and tells its hooks when they change', async () => {
    const { tls, issuer, deploy, changed } = await startTls();
    issuer.failWith = new AcmeError('AcmeRefused', 'the ACME server refused: rejectedIdentifier');
    await deploy();
    expect((await tls.getService('web'))?.certificates).toEqual([
      expect.objectContaining({ host: HOST, state: 'Failed', reason: 'AcmeRefused' }),
    ]);
    expect(changed.every((service) => service === 'web')).toBe(true);
    expect(changed.length).toBeGreaterThan(0);
    // A service without tls carries no certificate list; removing one forgets its hosts.
    await tls.deploy({ service: 'plain', hosts: ['plain.test'], targets: [] });
    expect((await tls.listServices()).find((service) => service.service === 'plain')?.certificates).toBeUndefined();
    await tls.remove('web');
    expect(tls.certificates.status(HOST)).toBeUndefined();
  });
});
