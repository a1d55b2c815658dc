import { mkdir, rm, writeFile } from 'node:fs/promises';
import type { IncomingHttpHeaders } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestImage, removeInstanceContainers, TEST_IMAGE, testInstance } from '../../support/docker.js';
import { projectManifest, startLuma, tempDir, type LumaProcess } from '../../support/luma.js';
import {
  proxyCli,
  startBackend,
  startProxy,
  startScriptedBackend,
  type Backend,
  type ProxyProcess,
  type ScriptedBackend,
} from '../../support/proxy.js';
import { makeCertificate } from '../../support/certificates.js';
import {
  headerValues,
  rawExchange,
  readResponses,
  type FramedResponse,
  type RawAnswer,
  type RawOptions,
} from '../../support/raw-http.js';

// The proxy's framing policy, end to end, on both of its paths (the fast path, and
// node:http with --no-fast-path), in the clear and over TLS (the HTTPS listener's HTTP/1.1
// connections start on the fast path too), with raw sockets against `luma proxy run`:
// - Content-Length, Transfer-Encoding and Host are never removed because a Connection
//   header names them: the app frames the body exactly as the proxy did, so a body can
//   never turn into a second request on the pooled upstream connection;
// - a response is framed by the headers it carries, named in Connection or not, and never
//   reaches the client with contradictory framing (a refused upgrade included);
// - answers the proxy writes itself carry no body for HEAD.

const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: app.localhost\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n';
const UPGRADE_HEADERS = [
  'Upgrade: websocket',
  'Connection: Upgrade',
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
  'Sec-WebSocket-Version: 13',
];

const head = (lines: string[], body = ''): string => `${lines.join('\r\n')}\r\n\r\n${body}`;
const chunked = (data: string): string => `${data.length.toString(16)}\r\n${data}\r\n0\r\n\r\n`;

interface Seen {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Attack {
  name: string;
  /** The attacker's bytes: a request whose body is a whole second request. */
  send: string;
  /** What the app must see of the attacker's own request. */
  expectAttack: (attack: Seen) => void;
}

const ATTACKS: Attack[] = [
  {
    name: 'Connection: content-length',
    send: head(
      [
        'POST /attack HTTP/1.1',
        'Host: app.localhost',
        'Connection: content-length',
        `Content-Length: ${SMUGGLED.length}`,
      ],
      SMUGGLED,
    ),
    expectAttack: (attack) => {
      expect(attack.headers['content-length']).toBe(String(SMUGGLED.length));
      expect(attack.body).toBe(SMUGGLED);
    },
  },
  {
    name: 'Connection: keep-alive, Content-Length (any case, among other tokens)',
    send: head(
      [
        'POST /attack HTTP/1.1',
        'Host: app.localhost',
        'Connection: keep-alive, X-Private, Content-Length',
        'X-Private: 1',
        `Content-Length: ${SMUGGLED.length}`,
      ],
      SMUGGLED,
    ),
    expectAttack: (attack) => {
      expect(attack.body).toBe(SMUGGLED);
      expect(attack.headers['x-private'], 'other headers Connection names are still dropped').toBeUndefined();
    },
  },
  {
    name: 'Connection: transfer-encoding, with a chunked body',
    send: head(
      ['POST /attack HTTP/1.1', 'Host: app.localhost', 'Connection: transfer-encoding', 'Transfer-Encoding: chunked'],
      chunked(SMUGGLED),
    ),
    expectAttack: (attack) => expect(attack.body).toBe(SMUGGLED),
  },
  {
    name: 'X_Forwarded_For and x-forwarded_host (underscores: CGI reads them as the X-Forwarded-* the proxy sets)',
    send: head(
      [
        'POST /attack HTTP/1.1',
        'Host: app.localhost',
        'X_Forwarded_For: 6.6.6.6',
        'x-forwarded_host: evil.example',
        `Content-Length: ${SMUGGLED.length}`,
      ],
      SMUGGLED,
    ),
    expectAttack: (attack) => {
      expect(attack.headers.x_forwarded_for).toBeUndefined();
      expect(attack.headers['x-forwarded_host']).toBeUndefined();
      expect(attack.body).toBe(SMUGGLED);
    },
  },
  {
    name: 'Connection: host',
    send: head(
      ['POST /attack HTTP/1.1', 'Host: app.localhost', 'Connection: host', `Content-Length: ${SMUGGLED.length}`],
      SMUGGLED,
    ),
    expectAttack: (attack) => {
      expect(attack.headers.host).toBe('app.localhost');
      expect(attack.body).toBe(SMUGGLED);
    },
  },
];

/** Framing headers of a response: never both, never twice; at most one Connection header. */
function expectConsistentFraming(response: FramedResponse): void {
  const lengths = headerValues(response, 'content-length');
  const codings = headerValues(response, 'transfer-encoding');
  expect(lengths.length + codings.length, JSON.stringify(response.headers)).toBeLessThanOrEqual(1);
  expect(headerValues(response, 'connection').length, JSON.stringify(response.headers)).toBeLessThanOrEqual(1);
}

const PATHS = [
  { name: 'fast path', args: [], tls: false },
  { name: 'node:http (--no-fast-path)', args: ['--no-fast-path'], tls: false },
  { name: 'fast path over TLS', args: [], tls: true },
  { name: 'node:http over TLS (--no-fast-path)', args: ['--no-fast-path'], tls: true },
];
const SERVICES = ['app', 'scripted', 'held'];

/** One certificate for every service's host, as HOST.crt and HOST.key files for --certificates-dir; its PEM (the CA to trust). */
async function writeCertificates(dir: string): Promise<string> {
  const hosts = SERVICES.map((service) => `${service}.localhost`);
  const pem = await makeCertificate({ hosts, notBefore: Date.now() - 60_000, notAfter: Date.now() + 86_400_000 });
  await mkdir(dir, { recursive: true });
  for (const host of hosts) {
    await writeFile(path.join(dir, `${host}.crt`), pem.certPem);
    await writeFile(path.join(dir, `${host}.key`), pem.keyPem, { mode: 0o600 });
  }
  return pem.certPem;
}

describe.each(PATHS)('framing policy of `luma proxy run`, $name', ({ args, tls }) => {
  let dir: string;
  let proxy: ProxyProcess;
  let ca: string | undefined;
  /** A raw exchange with the listener under test: the plain one, or the HTTPS one with HTTP/1.1 chosen. */
  const exchange = (request: string, options: RawOptions = {}): Promise<RawAnswer> =>
    ca
      ? rawExchange(proxy.httpsPort ?? 0, request, { ...options, tls: { servername: 'app.localhost', ca } })
      : rawExchange(proxy.port, request, options);
  let app: Backend;
  let scripted: ScriptedBackend;
  let seen: Seen[] = [];

  const deploy = async (service: string, extra: string[]): Promise<void> => {
    const deployed = await proxyCli([
      'deploy',
      service,
      '--host',
      `${service}.localhost`,
      ...(tls ? ['--tls'] : []),
      ...extra,
      '--skip-health-check',
      '--state-dir',
      path.join(dir, 'state'),
    ]);
    expect(deployed.code, deployed.stderr).toBe(0);
  };

  beforeAll(async () => {
    dir = await tempDir('framing');
    const certificatesDir = path.join(dir, 'certificates');
    if (tls) ca = await writeCertificates(certificatesDir);
    const tlsArgs = tls ? ['--https-listen', '127.0.0.1:0', '--certificates-dir', certificatesDir] : [];
    proxy = await startProxy({ stateDir: path.join(dir, 'state'), args: [...args, ...tlsArgs] });
    app = await startBackend((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        seen.push({
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('latin1'),
        });
        res.writeHead(200, { 'content-type': 'text/plain' }).end(`answer for ${req.url}\n`);
      });
    });
    // An app that serves CONNECT as a tunnel: whatever reaches it after the head is recorded as a request.
    app.server.on('connect', (req, socket) => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: '' });
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
      socket.on('data', (chunk: Buffer) =>
        seen.push({ method: 'TUNNEL', url: chunk.toString('latin1').split(' ')[1] ?? '', headers: {}, body: '' }),
      );
      socket.on('error', () => undefined);
    });
    scripted = await startScriptedBackend({
      '/listed-length': { bytes: 'HTTP/1.1 200 OK\r\nConnection: content-length\r\nContent-Length: 6\r\n\r\nhello\n' },
      '/listed-chunked': {
        bytes:
          'HTTP/1.1 200 OK\r\nConnection: transfer-encoding, keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello\n\r\n0\r\n\r\n',
      },
      '/ws-refused-chunked': {
        bytes:
          'HTTP/1.1 403 Forbidden\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n7\r\nno way\n\r\n0\r\n\r\n',
      },
      '/ws-refused-length': {
        bytes: 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 7\r\n\r\nno way\n',
        close: true,
      },
      '/ws-refused-ok': { bytes: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nno way\n' },
      '/early-hints': {
        bytes:
          'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n',
      },
      '/processing': { bytes: 'HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nhello\n' },
      '/304-length': { bytes: 'HTTP/1.1 304 Not Modified\r\nETag: "x"\r\nContent-Length: 6\r\n\r\n' },
      '/204-length': { bytes: 'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n' },
    });
    await deploy('app', ['--target', app.address]);
    await deploy('scripted', ['--target', scripted.address]);
    await deploy('held', ['--startup-timeout', '300ms']);
  });

  afterAll(async () => {
    await proxy?.stop();
    await app?.close();
    await scripted?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('a framing header named in Connection is kept: no smuggling', () => {
    for (const attack of ATTACKS) {
      it(`${attack.name}: the body stays a body, the victim gets its own answer`, async () => {
        seen = [];
        const attacker = await exchange(attack.send, { idleMs: 500 });
        // The victim, on another connection, right behind: the pooled upstream connection
        // the attacker's request used is the one it gets.
        const victims = [];
        for (let victim = 0; victim < 3; victim++)
          victims.push(
            await exchange(head([`GET /victim-${victim} HTTP/1.1`, 'Host: app.localhost', 'Connection: close']), {
              idleMs: 2_000,
            }),
          );
        await new Promise((resolve) => setTimeout(resolve, 50));

        expect(seen.map((request) => request.url)).not.toContain('/smuggled');
        expect(attacker.statuses, attacker.raw).toEqual([200]);
        expect(readResponses(attacker.raw, ['POST']).responses[0]?.body).toBe('answer for /attack\n');
        victims.forEach((victim, index) =>
          expect(readResponses(victim.raw, ['GET']).responses.map((response) => response.body)).toEqual([
            `answer for /victim-${index}\n`,
          ]),
        );
        for (const request of seen) expect(request.headers['x-forwarded-for'], request.url).toBe('127.0.0.1');
        const attackSeen = seen.find((request) => request.url === '/attack');
        expect(attackSeen, 'the attack itself reached the app').toBeDefined();
        attack.expectAttack(attackSeen as Seen);
      });
    }
  });

  it('a CONNECT never reaches the app, nor what is pipelined behind it (llhttp reads those bytes as a tunnel)', async () => {
    seen = [];
    const attacker = await exchange(head(['CONNECT /x HTTP/1.1', 'Host: app.localhost']) + SMUGGLED, {
      idleMs: 1_000,
    });
    const victim = await exchange(head(['GET /victim HTTP/1.1', 'Host: app.localhost', 'Connection: close']), {
      idleMs: 2_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(
      seen.map((request) => `${request.method} ${request.url}`),
      attacker.raw,
    ).toEqual(['GET /victim']);
    expect(
      attacker.statuses.filter((status) => status < 400),
      attacker.raw,
    ).toEqual([]);
    expect(readResponses(victim.raw, ['GET']).responses.map((response) => response.body)).toEqual([
      'answer for /victim\n',
    ]);
  });

  describe('responses are framed by what they carry', () => {
    for (const pathName of ['/early-hints', '/processing']) {
      it(`an informational head before the final one (${pathName}) leaves the final response and the next one intact`, async () => {
        const answer = await exchange(
          head([`GET ${pathName} HTTP/1.1`, 'Host: scripted.localhost']) +
            head(['GET /luma-proxy-health HTTP/1.1', 'Host: x', 'Connection: close']),
        );
        const { responses, rest } = readResponses(answer.raw, ['GET', 'GET']);
        expect(
          responses.map((response) => [response.status, response.body]),
          answer.raw,
        ).toEqual([
          [200, 'hello\n'],
          [200, 'ok\n'],
        ]);
        expect(rest, answer.raw).toBe('');
      });
    }

    for (const [pathName, status] of [
      ['/304-length', 304],
      ['/204-length', 204],
    ] as const) {
      it(`a ${status} with a Content-Length has no body, and the connection serves the next request`, async () => {
        const answer = await exchange(
          head([`GET ${pathName} HTTP/1.1`, 'Host: scripted.localhost']) +
            head(['GET /luma-proxy-health HTTP/1.1', 'Host: x', 'Connection: close']),
        );
        const { responses, rest } = readResponses(answer.raw, ['GET', 'GET']);
        expect(
          responses.map((response) => [response.status, response.body]),
          answer.raw,
        ).toEqual([
          [status, ''],
          [200, 'ok\n'],
        ]);
        expect(rest, answer.raw).toBe('');
      });
    }

    it('a response whose Connection names its Content-Length or Transfer-Encoding is still framed by it', async () => {
      const answer = await exchange(
        head(['GET /listed-length HTTP/1.1', 'Host: scripted.localhost']) +
          head(['GET /listed-chunked HTTP/1.1', 'Host: scripted.localhost']) +
          head(['GET /luma-proxy-health HTTP/1.1', 'Host: x', 'Connection: close']),
      );
      const { responses, rest } = readResponses(answer.raw, ['GET', 'GET', 'GET']);
      expect(
        responses.map((response) => [response.status, response.body]),
        answer.raw,
      ).toEqual([
        [200, 'hello\n'],
        [200, 'hello\n'],
        [200, 'ok\n'],
      ]);
      expect(rest).toBe('');
      for (const response of responses) expectConsistentFraming(response);
    });

    for (const [pathName, status] of [
      ['/ws-refused-chunked', 403],
      ['/ws-refused-length', 400],
      ['/ws-refused-ok', 200],
    ] as const) {
      it(`a refused upgrade (${status} from ${pathName}) is relayed with one framing and one Connection: close, then closed`, async () => {
        const answer = await exchange(
          head([`GET ${pathName} HTTP/1.1`, 'Host: scripted.localhost', ...UPGRADE_HEADERS]),
        );
        const { responses, rest } = readResponses(answer.raw, ['GET']);
        expect(
          responses.map((response) => [response.status, response.body]),
          answer.raw,
        ).toEqual([[status, 'no way\n']]);
        expect(rest, answer.raw).toBe('');
        expectConsistentFraming(responses[0] as FramedResponse);
        expect(headerValues(responses[0] as FramedResponse, 'connection')).toEqual(['close']);
        expect(headerValues(responses[0] as FramedResponse, 'upgrade')).toEqual([]);
        expect(answer.closed).toBe(true);
      });
    }
  });

  describe("the proxy's own answers to HEAD carry no body", () => {
    for (const [name, host, target, status] of [
      ['404 for an unknown host', 'nobody.localhost', '/', 404],
      ['400 for a bad Host', 'bad host', '/', 400],
      ['503 when a held request times out', 'held.localhost', '/', 503],
      ['200 of the health path', 'x', '/luma-proxy-health', 200],
    ] as const) {
      it(`${name}: Content-Length but no body bytes, and the next response follows at once`, async () => {
        const answer = await exchange(
          head([`HEAD ${target} HTTP/1.1`, `Host: ${host}`]) +
            head(['GET /luma-proxy-health HTTP/1.1', 'Host: x', 'Connection: close']),
        );
        const { responses, rest } = readResponses(answer.raw, ['HEAD', 'GET']);
        expect(
          responses.map((response) => response.status),
          answer.raw,
        ).toEqual([status, 200]);
        expect(Number(headerValues(responses[0] as FramedResponse, 'content-length')[0])).toBeGreaterThan(0);
        expect(responses[1]?.body).toBe('ok\n');
        expect(rest, answer.raw).toBe('');
      });
    }
  });
});

describe('framing policy of `luma up`', () => {
  const instance = testInstance('framing');
  let dir: string;
  let luma: LumaProcess;

  beforeAll(async () => {
    await buildTestImage();
    dir = await tempDir('framing-up');
    await mkdir(path.join(dir, 'manifests'));
    await writeFile(
      path.join(dir, 'manifests', 'app.yaml'),
      projectManifest('app', { image: TEST_IMAGE, hostnames: ['app.localhost'], minInstances: 1 }),
    );
    luma = await startLuma({ stateDir: path.join(dir, 'state'), manifests: path.join(dir, 'manifests'), instance });
  });

  afterAll(async () => {
    await luma?.stop();
    await removeInstanceContainers(instance);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("the app gets the Content-Length and Host that Connection names, and the proxy's X-Forwarded-For", async () => {
    const attack = head(
      [
        'POST /cgi-bin/env HTTP/1.1',
        'Host: app.localhost',
        'Connection: content-length, host, close',
        'X-Forwarded-For: 6.6.6.6',
        `Content-Length: ${SMUGGLED.length}`,
      ],
      SMUGGLED,
    );
    const answer = await rawExchange(luma.proxyPort, attack, { idleMs: 30_000 });
    const { responses } = readResponses(answer.raw, ['POST']);
    expect(
      responses.map((response) => response.status),
      answer.raw,
    ).toEqual([200]);
    const environment = responses[0]?.body ?? '';
    expect(environment).toContain(`CONTENT_LENGTH=${SMUGGLED.length}\n`);
    expect(environment).toContain('HTTP_HOST=app.localhost\n');
    expect(environment).toMatch(/^HTTP_X_FORWARDED_FOR=127\.0\.0\.1$/m);
  });

  it('a HEAD to an unknown host on a keep-alive connection, then a GET: two responses, the first without body bytes', async () => {
    const answer = await rawExchange(
      luma.proxyPort,
      head(['HEAD / HTTP/1.1', 'Host: nobody.localhost']) +
        head(['GET / HTTP/1.1', 'Host: nobody.localhost', 'Connection: close']),
    );
    const { responses, rest } = readResponses(answer.raw, ['HEAD', 'GET']);
    expect(
      responses.map((response) => response.status),
      answer.raw,
    ).toEqual([404, 404]);
    expect(Number(headerValues(responses[0] as FramedResponse, 'content-length')[0])).toBe(
      Buffer.byteLength(responses[1]?.body ?? ''),
    );
    expect(responses[1]?.body).toContain('nobody.localhost');
    expect(rest).toBe('');
  });
});
