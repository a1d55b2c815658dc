import { createHash, randomBytes } from 'node:crypto';
import http, { type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { respond, RETRY_AFTER_SECONDS } from '../../../src/proxy/responses.js';
import { HEALTH_PATH, ProxyServer, type ProxyServerOptions } from '../../../src/proxy/proxy-server.js';

// The proxy in-process, with real loopback HTTP servers as backends: no Docker. One
// suite, run by proxy-server.fast.test.ts (the fast path in front, as in production) and
// proxy-server.node.test.ts (node:http alone): both paths must give the same answers.

const HOST = 'app.test';

interface Backend {
  address: string;
  port: number;
  /** Requests the backend has received (headers as it saw them). */
  seen: IncomingHttpHeaders[];
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

const cleanups: Array<() => Promise<void>> = [];

async function startBackend(
  handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end('hello'),
): Promise<Backend> {
  const seen: IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { address: `127.0.0.1:${port}`, port, seen };
}

async function startProxyWith(options: ProxyServerOptions): Promise<{ proxy: ProxyServer; port: number }> {
  const proxy = new ProxyServer(options);
  const { port } = await proxy.listen('127.0.0.1', 0);
  cleanups.push(() => proxy.close());
  return { proxy, port };
}

/** A port that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function send(
  port: number,
  options: {
    host?: string;
    path?: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
  } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: options.path ?? '/',
        method: options.method ?? 'GET',
        agent: false,
        headers: { host: options.host ?? HOST, ...options.headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Sends raw bytes and returns everything the server wrote before closing. */
function sendRaw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString()));
    socket.on('error', reject);
  });
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

function tracked<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  return { promise, settled: () => done };
}

/** A backend whose responses wait until the test releases them. */
async function startHeldBackend(): Promise<Backend & { release: () => void; arrived: () => number }> {
  const waiting: ServerResponse[] = [];
  let arrived = 0;
  const backend = await startBackend((_req, res) => {
    arrived++;
    waiting.push(res);
  });
  return {
    ...backend,
    arrived: () => arrived,
    release: () => {
      for (const res of waiting.splice(0)) res.end('released');
    },
  };
}

/** Every test of the proxy server, on the fast path (`fastPath: true`) or on node:http alone. */
export function proxyServerSuite(fastPath: boolean): void {
  const path = fastPath ? 'fast path' : 'node:http';
  const startProxy = (options: ProxyServerOptions = {}): Promise<{ proxy: ProxyServer; port: number }> =>
    startProxyWith({ fastPath, ...options });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  describe(`ProxyServer (${path}): answers of its own`, () => {
    it('answers its health path without any service', async () => {
      const { port } = await startProxy();
      const reply = await send(port, { path: HEALTH_PATH, host: 'whatever.test' });
      expect(reply.status).toBe(200);
      expect(reply.body).toBe('ok\n');
    });

    it('answers 404 naming the host when no service routes it', async () => {
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [] });
      const reply = await send(port, { host: 'Nobody.Example.com:8080' });
      expect(reply.status).toBe(404);
      expect(reply.body).toContain('"nobody.example.com"');
    });

    it('answers 400 to a request without a Host header', async () => {
      const { port } = await startProxy();
      // HTTP/1.0 may omit Host, so it reaches the proxy's own routing.
      const raw = await sendRaw(port, 'GET / HTTP/1.0\r\n\r\n');
      expect(raw).toMatch(/^HTTP\/1\.1 400 /);
      expect(raw).toContain('no Host header');
    });
  });

  describe(`ProxyServer (${path}): forwarding`, () => {
    it('forwards to the target of the requested host and answers with its response', async () => {
      const backend = await startBackend((req, res) => {
        res.setHeader('x-app', 'yes');
        res.statusCode = 201;
        res.end(`${req.method} ${req.url}`);
      });
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
      const reply = await send(port, { path: '/a/b?c=d', method: 'PUT', host: 'APP.test:1234' });
      expect(reply.status).toBe(201);
      expect(reply.body).toBe('PUT /a/b?c=d');
      expect(reply.headers['x-app']).toBe('yes');
    });

    it('sets X-Forwarded-For, -Proto and -Host, overwriting whatever the client sent', async () => {
      const backend = await startBackend();
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });

      await send(port, { host: `${HOST}:8080` });
      expect(backend.seen[0]?.['x-forwarded-for']).toBe('127.0.0.1');
      expect(backend.seen[0]?.['x-forwarded-proto']).toBe('http');
      expect(backend.seen[0]?.['x-forwarded-host']).toBe(`${HOST}:8080`);
      expect(backend.seen[0]?.host).toBe(`${HOST}:8080`);

      await send(port, {
        headers: { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.test', 'x-forwarded-for': '203.0.113.9' },
      });
      expect(backend.seen[1]?.['x-forwarded-proto']).toBe('http');
      expect(backend.seen[1]?.['x-forwarded-host']).toBe(HOST);
      expect(backend.seen[1]?.['x-forwarded-for']).toBe('127.0.0.1');
    });

    it('keeps and extends client X-Forwarded-* when the service trusts a proxy in front (forwardHeaders)', async () => {
      const backend = await startBackend();
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address], forwardHeaders: true });
      await send(port, {
        headers: {
          'x-forwarded-proto': 'https',
          'x-forwarded-host': 'public.example.com',
          'x-forwarded-for': '203.0.113.9',
        },
      });
      expect(backend.seen[0]).toMatchObject({
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'public.example.com',
        'x-forwarded-for': '203.0.113.9, 127.0.0.1',
      });
      await send(port);
      expect(backend.seen[1]).toMatchObject({
        'x-forwarded-proto': 'http',
        'x-forwarded-host': HOST,
        'x-forwarded-for': '127.0.0.1',
      });
    });

    it('answers 504 when the target sends no response headers within the response timeout', async () => {
      const backend = await startHeldBackend();
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address], responseTimeoutMs: 150 });
      const started = Date.now();
      const reply = await send(port);
      expect(reply.status).toBe(504);
      expect(reply.body).toContain('web did not answer within 0.15s');
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
      expect((await proxy.getService('web'))?.activity.inFlight).toBe(0);
      backend.release();
    });

    it('does not time out a response that has started, however long its body takes', async () => {
      const backend = await startBackend((_req, res) => {
        res.writeHead(200);
        res.write('a');
        setTimeout(() => res.end('b'), 250);
      });
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address], responseTimeoutMs: 100 });
      const reply = await send(port);
      expect(reply.status).toBe(200);
      expect(reply.body).toBe('ab');
    });

    it('strips hop-by-hop headers both ways, including those the Connection header names', async () => {
      const backend = await startBackend((_req, res) => {
        res.setHeader('connection', 'x-internal');
        res.setHeader('x-internal', 'secret');
        res.setHeader('proxy-authenticate', 'Basic');
        res.setHeader('x-kept', 'yes');
        res.end('ok');
      });
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
      const reply = await send(port, {
        headers: {
          connection: 'close, x-private',
          'x-private': 'secret',
          'keep-alive': 'timeout=5',
          'proxy-authorization': 'Basic Zm9vOmJhcg==',
          'proxy-connection': 'keep-alive',
          te: 'trailers',
          upgrade: 'h2c',
          'x-custom': 'kept',
        },
      });
      expect(reply.status).toBe(200);
      const seen = backend.seen[0]!;
      for (const name of ['x-private', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'te', 'upgrade'])
        expect(seen[name], name).toBeUndefined();
      expect(seen['x-custom']).toBe('kept');
      expect(reply.headers['x-internal']).toBeUndefined();
      expect(reply.headers['proxy-authenticate']).toBeUndefined();
      expect(reply.headers['x-kept']).toBe('yes');
    });

    it('echoes a large POST body intact', async () => {
      const backend = await startBackend((req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        req.pipe(res);
      });
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
      const body = randomBytes(4 * 1024 * 1024);
      const reply = await new Promise<Buffer>((resolve, reject) => {
        const req = http.request(
          { host: '127.0.0.1', port, method: 'POST', path: '/echo', agent: false, headers: { host: HOST } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (chunk: Buffer) => chunks.push(chunk));
            res.on('end', () => resolve(Buffer.concat(chunks)));
          },
        );
        req.on('error', reject);
        req.end(body);
      });
      expect(reply.length).toBe(body.length);
      expect(createHash('sha256').update(reply).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    });

    it('streams bodies both ways: the echo of a first chunk arrives before the request body ends', async () => {
      const backend = await startBackend((req, res) => {
        res.writeHead(200);
        req.pipe(res);
      });
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });

      const received = await new Promise<string>((resolve, reject) => {
        const req = http.request({
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/',
          agent: false,
          headers: { host: HOST, 'transfer-encoding': 'chunked' },
        });
        req.on('error', reject);
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            text += chunk;
            // Only once the first chunk came back through the proxy is the rest sent: a
            // proxy that buffered either body whole would never get here.
            if (text === 'first;') req.end('second');
          });
          res.on('end', () => resolve(text));
        });
        req.write('first;');
      });
      expect(received).toBe('first;second');
    });

    it('balances simultaneous requests across targets', async () => {
      const one = await startHeldBackend();
      const two = await startHeldBackend();
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [one.address, two.address] });
      const replies = Array.from({ length: 4 }, () => send(port));
      await until(() => one.arrived() + two.arrived() === 4, 'four requests at the backends');
      expect([one.arrived(), two.arrived()]).toEqual([2, 2]);
      one.release();
      two.release();
      expect((await Promise.all(replies)).map((reply) => reply.status)).toEqual([200, 200, 200, 200]);
    });

    it('answers 502 when the target fails a request that has a body', async () => {
      const { proxy, port } = await startProxy();
      const dead = await closedPort();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [`127.0.0.1:${dead}`] });
      const reply = await send(port, { method: 'POST', body: 'payload' });
      expect(reply.status).toBe(502);
      expect(reply.body).toContain('web did not answer');
      // Nothing was retried elsewhere or held.
      expect((await proxy.getService('web'))?.activity).toMatchObject({ inFlight: 0, waiting: 0 });
    });

    it('answers 502 when the target drops the connection without answering', async () => {
      const backend = await startBackend((req) => req.socket.destroy());
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
      const reply = await send(port, { method: 'POST', body: 'x' });
      expect(reply.status).toBe(502);
    });
  });

  describe(`ProxyServer (${path}): holding requests for a service with no target`, () => {
    it('holds simultaneous requests, wakes the service once, and forwards them all when a target is deployed', async () => {
      const backend = await startBackend((req, res) => res.end(`served ${req.url}`));
      const wakes: string[] = [];
      const { proxy, port } = await startProxy({ hooks: { wake: (service) => wakes.push(service) } });
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [] });

      const replies = Array.from({ length: 8 }, (_, index) => send(port, { path: `/${index}` }));
      await until(async () => (await proxy.getService('web'))?.activity.waiting === 8, 'eight held requests');
      expect(wakes).toEqual(['web']);
      expect(backend.seen).toHaveLength(0);

      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
      const answered = await Promise.all(replies);
      expect(answered.map((reply) => reply.status)).toEqual(Array(8).fill(200));
      expect(answered.map((reply) => reply.body)).toEqual(Array.from({ length: 8 }, (_, index) => `served /${index}`));
      expect(wakes).toEqual(['web']);
      expect((await proxy.getService('web'))?.activity.waiting).toBe(0);
    });

    // Only the fast path keeps connections of its own (node:http reaches targets through undici).
    it.runIf(fastPath)(
      'forwards a held request over the connection preconnect() opened before the deploy; one the target closed costs a request nothing',
      async () => {
        let connections = 0;
        const backend = net.createServer((socket) => {
          connections++;
          // The second connection opened ahead is closed by the target, as an app that restarted would.
          if (connections === 2) {
            socket.destroy();
            return;
          }
          socket.on('data', () => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n'));
        });
        await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
        cleanups.push(() => new Promise<void>((resolve) => backend.close(() => resolve())));
        const address = `127.0.0.1:${(backend.address() as AddressInfo).port}`;
        const { proxy, port } = await startProxy();
        await proxy.deploy({ service: 'web', hosts: [HOST], targets: [] });

        const held = send(port);
        await until(async () => (await proxy.getService('web'))?.activity.waiting === 1, 'a held request');
        await proxy.preconnect(address);
        await until(async () => connections === 1, 'the connection opened ahead');
        await proxy.deploy({ service: 'web', hosts: [HOST], targets: [address] });
        expect((await held).status).toBe(200);
        expect(connections).toBe(1);

        // A connection opened ahead that the target has closed meanwhile costs the request nothing.
        await proxy.preconnect(address);
        await until(async () => connections === 2, 'a second connection opened ahead');
        const again = await send(port);
        expect(again.status).toBe(200);
        expect(connections).toBe(3);
      },
    );

    it.runIf(!fastPath)('forwards a held request after preconnect(), which opens nothing on node:http', async () => {
      const backend = await startBackend();
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [] });
      const held = send(port);
      await until(async () => (await proxy.getService('web'))?.activity.waiting === 1, 'a held request');
      await proxy.preconnect(backend.address);
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
      expect(await held).toMatchObject({ status: 200, body: 'hello' });
    });

    it('refuses to preconnect to something that is not host:port', async () => {
      const { proxy } = await startProxy();
      await expect(proxy.preconnect('nowhere')).rejects.toThrow('target "nowhere" is not a host:port address');
    });

    it('answers a held request 503 with Retry-After once the startup timeout passes', async () => {
      const wakes: string[] = [];
      const { proxy, port } = await startProxy({ hooks: { wake: (service) => wakes.push(service) } });
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [], startupTimeoutMs: 200 });
      const started = Date.now();
      const reply = await send(port);
      const elapsed = Date.now() - started;
      expect(reply.status).toBe(503);
      expect(reply.headers['retry-after']).toBe(String(RETRY_AFTER_SECONDS));
      expect(reply.body).toContain('web did not become ready within 0.2s');
      expect(elapsed).toBeGreaterThanOrEqual(190);
      expect(elapsed).toBeLessThan(1_000);
      expect(wakes).toEqual(['web']);
      expect((await proxy.getService('web'))?.activity.waiting).toBe(0);
    });

    it('answers 503 with the reason at once, without waking, when the service is unavailable', async () => {
      const wakes: string[] = [];
      const { proxy, port } = await startProxy({ hooks: { wake: (service) => wakes.push(service) } });
      await proxy.deploy({
        service: 'web',
        hosts: [HOST],
        targets: [],
        startupTimeoutMs: 5_000,
        unavailableReason: 'image "hello" is not present',
      });
      const started = Date.now();
      const reply = await send(port);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(reply.status).toBe(503);
      expect(reply.headers['retry-after']).toBe(String(RETRY_AFTER_SECONDS));
      expect(reply.body).toContain('web is unavailable: image "hello" is not present');
      expect(wakes).toEqual([]);
    });

    it('answers held requests 503 with the reason when a deploy marks the service unavailable', async () => {
      const { proxy, port } = await startProxy({ hooks: { wake: () => undefined } });
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [], startupTimeoutMs: 5_000 });
      const reply = send(port);
      await until(async () => (await proxy.getService('web'))?.activity.waiting === 1, 'a held request');
      await proxy.deploy({
        service: 'web',
        hosts: [HOST],
        targets: [],
        startupTimeoutMs: 5_000,
        unavailableReason: 'StartFailed',
      });
      const answered = await reply;
      expect(answered.status).toBe(503);
      expect(answered.body).toContain('unavailable: StartFailed');
    });

    it('answers held requests 404 when their service is removed', async () => {
      const { proxy, port } = await startProxy({ hooks: { wake: () => undefined } });
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [], startupTimeoutMs: 5_000 });
      const reply = send(port);
      await until(async () => (await proxy.getService('web'))?.activity.waiting === 1, 'a held request');
      await proxy.remove('web');
      const answered = await reply;
      expect(answered.status).toBe(404);
      expect(answered.body).toContain('was removed');
    });

    it('stops counting a held request whose client went away', async () => {
      const { proxy, port } = await startProxy({ hooks: { wake: () => undefined } });
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [], startupTimeoutMs: 5_000 });
      const req = http.request({ host: '127.0.0.1', port, agent: false, headers: { host: HOST } });
      req.on('error', () => undefined);
      req.end();
      await until(async () => (await proxy.getService('web'))?.activity.waiting === 1, 'a held request');
      req.destroy();
      await until(
        async () => (await proxy.getService('web'))?.activity.waiting === 0,
        'the held request to be dropped',
      );
    });

    it('wakes again when a deploy leaves held requests without a target', async () => {
      const wakes: string[] = [];
      const { proxy, port } = await startProxy({ hooks: { wake: (service) => wakes.push(service) } });
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [], startupTimeoutMs: 300 });
      const reply = send(port);
      await until(() => wakes.length === 1, 'the first wake');
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [], startupTimeoutMs: 300 });
      expect(wakes).toEqual(['web', 'web']);
      expect((await reply).status).toBe(503);
    });

    // BUG (latent; src/proxy/proxy-server.ts:365 vs 385-387): holdUntilTarget calls wake()
    // before it subscribes to the service's 'changed' event and never re-checks for a target
    // after subscribing. A hook that deploys a target synchronously from wake() (nothing in
    // ProxyHooks forbids it; an in-process controller with a warm container could) emits
    // 'changed' before anyone listens, so the request waits out the whole startup timeout
    // and gets a 503 although a target is there.
    // Fix: register the listeners (and the timer) first and call wake() last, or call
    // onChanged() once right after subscribing.
    it('forwards a held request when wake() deploys a target synchronously', async () => {
      const backend = await startBackend();
      const proxy = new ProxyServer({ fastPath });
      proxy.setHooks({
        wake: (service) =>
          void proxy.deploy({ service, hosts: [HOST], targets: [backend.address], startupTimeoutMs: 300 }),
      });
      const { port } = await proxy.listen('127.0.0.1', 0);
      cleanups.push(() => proxy.close());
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [], startupTimeoutMs: 300 });
      expect((await send(port)).status).toBe(200);
    });

    it('drops a target that refuses connections, holds a bodiless request and serves it from the next target', async () => {
      const backend = await startBackend((_req, res) => res.end('from the new target'));
      const dead = await closedPort();
      const wakes: string[] = [];
      const { proxy, port } = await startProxy({ hooks: { wake: (service) => wakes.push(service) } });
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [`127.0.0.1:${dead}`], startupTimeoutMs: 2_000 });

      const reply = send(port);
      await until(async () => (await proxy.getService('web'))?.activity.waiting === 1, 'the request to be held');
      const info = await proxy.getService('web');
      expect(info?.targets).toEqual([]);
      expect(wakes.length).toBeGreaterThanOrEqual(1);
      expect(new Set(wakes)).toEqual(new Set(['web']));

      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address], startupTimeoutMs: 2_000 });
      const answered = await reply;
      expect(answered.status).toBe(200);
      expect(answered.body).toBe('from the new target');
      expect(backend.seen).toHaveLength(1);
    });

    it('keeps serving from the live target when one of two refuses connections', async () => {
      const backend = await startBackend((_req, res) => res.end('alive'));
      const dead = await closedPort();
      const wakes: string[] = [];
      const { proxy, port } = await startProxy({ hooks: { wake: (service) => wakes.push(service) } });
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [`127.0.0.1:${dead}`, backend.address] });
      const replies = await Promise.all([send(port), send(port), send(port)]);
      expect(replies.map((reply) => reply.body)).toEqual(['alive', 'alive', 'alive']);
      expect((await proxy.getService('web'))?.targets.map((target) => target.address)).toEqual([backend.address]);
      expect(wakes).toEqual([]);
    });
  });

  describe(`ProxyServer (${path}): management`, () => {
    it('refuses a deploy whose new target fails its health check and keeps the previous targets', async () => {
      const old = await startBackend((_req, res) => res.end('old'));
      const sick = await startBackend((_req, res) => {
        res.statusCode = 500;
        res.end();
      });
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [old.address] });
      await expect(
        proxy.deploy({
          service: 'web',
          hosts: [HOST, 'new.test'],
          targets: [sick.address],
          healthCheck: { path: '/healthz', timeoutMs: 100 },
        }),
      ).rejects.toMatchObject({ code: 'HealthCheckFailed', target: sick.address });
      const info = await proxy.getService('web');
      expect(info?.targets.map((target) => target.address)).toEqual([old.address]);
      expect(info?.hosts).toEqual([HOST]);
      expect((await send(port)).body).toBe('old');
      expect(sick.seen.length).toBeGreaterThan(0);
    });

    it('moves traffic once the new targets of a health-checked deploy answer', async () => {
      const old = await startBackend((_req, res) => res.end('old'));
      const next = await startBackend((req, res) => res.end(req.url === '/healthz' ? 'healthy' : 'next'));
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [old.address] });
      await proxy.deploy({
        service: 'web',
        hosts: [HOST],
        targets: [next.address],
        healthCheck: { path: '/healthz', timeoutMs: 1_000 },
      });
      expect(next.seen.length).toBeGreaterThan(0);
      expect((await send(port)).body).toBe('next');
    });

    it('refuses a deploy with a host conflict or a bad target and changes nothing', async () => {
      const { proxy } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [] });
      await expect(proxy.deploy({ service: 'api', hosts: [HOST], targets: [] })).rejects.toMatchObject({
        code: 'HostConflict',
      });
      await expect(proxy.deploy({ service: 'web', hosts: ['other.test'], targets: ['nope'] })).rejects.toThrow(
        /not a host:port/,
      );
      expect((await proxy.listServices()).map((info) => [info.service, info.hosts])).toEqual([['web', [HOST]]]);
    });

    it('refuses to remove a service it does not have', async () => {
      const { proxy } = await startProxy();
      await expect(proxy.remove('ghost')).rejects.toMatchObject({ code: 'UnknownService', service: 'ghost' });
    });

    it('keeps global options', async () => {
      const { proxy } = await startProxy();
      await proxy.setGlobalOption('lets-encrypt-email', 'ops@example.com');
      expect(proxy.globalOption('lets-encrypt-email')).toBe('ops@example.com');
    });

    it('hints the controller to scale up when in-flight requests exceed targetConcurrency per target', async () => {
      const backend = await startHeldBackend();
      const wakes: string[] = [];
      const { proxy, port } = await startProxy({ hooks: { wake: (service) => wakes.push(service) } });
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address], targetConcurrency: 2 });
      const replies = [send(port), send(port)];
      await until(() => backend.arrived() === 2, 'two requests at the backend');
      expect(wakes).toEqual([]);
      replies.push(send(port));
      await until(() => backend.arrived() === 3, 'three requests at the backend');
      expect(wakes).toEqual(['web']);
      backend.release();
      await Promise.all(replies);
    });
  });

  describe(`ProxyServer (${path}): WebSocket upgrades`, () => {
    /** A target that switches protocols and echoes; `closeOnEnd` false models an app that ignores a FIN. */
    async function startUpgradeBackend(closeOnEnd: boolean): Promise<string> {
      const upstream = http.createServer((_req, res) => res.end('plain'));
      const sockets = new Set<net.Socket>();
      upstream.on('upgrade', (req: IncomingMessage, socket: net.Socket) => {
        sockets.add(socket);
        socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n');
        socket.on('data', (data) => socket.write(`echo:${String(data)}|host=${req.headers['x-forwarded-host']}`));
        if (closeOnEnd) socket.on('end', () => socket.end());
      });
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      cleanups.push(
        () =>
          new Promise<void>((resolve) => {
            upstream.close(() => resolve());
            upstream.closeAllConnections();
            for (const socket of sockets) socket.destroy();
          }),
      );
      return `127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    }

    async function openUpgraded(port: number): Promise<{ socket: net.Socket; received: () => string }> {
      const socket = net.connect(port, '127.0.0.1');
      let received = '';
      socket.on('data', (chunk) => (received += String(chunk)));
      socket.on('error', () => undefined);
      socket.write(`GET /ws HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`);
      await until(() => received.includes('\r\n\r\n'), 'the 101 answer');
      return { socket, received: () => received };
    }

    it('splices an upgraded connection to the target and counts it in flight until it closes', async () => {
      const address = await startUpgradeBackend(true);
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [address] });

      const { socket, received } = await openUpgraded(port);
      expect(received()).toMatch(/^HTTP\/1\.1 101 /);
      socket.write('ping');
      await until(() => received().includes('echo:ping'), 'the echo');
      expect(received()).toContain(`echo:ping|host=${HOST}`);
      expect((await proxy.getService('web'))?.activity.inFlight).toBe(1);
      socket.destroy();
      await until(
        async () => (await proxy.getService('web'))?.activity.inFlight === 0,
        'the upgraded connection to end',
      );
    });

    /**
     * Watches the proxy's upgrade sockets: records whether the proxy gave each an 'error'
     * listener, then adds a no-op one so that the test's own connection reset cannot become
     * an uncaught exception in the test process (see the bug below).
     */
    function watchUpgradeSockets(proxy: ProxyServer): number[] {
      const errorListeners: number[] = [];
      const server = (proxy as unknown as { server: http.Server }).server;
      server.on('upgrade', (_req: IncomingMessage, socket: net.Socket) => {
        setImmediate(() => {
          errorListeners.push(socket.listenerCount('error'));
          socket.on('error', () => undefined);
        });
      });
      return errorListeners;
    }

    /** Sends an upgrade request; resolves with what came back once `done` says so, and whether the proxy closed. */
    async function refusedUpgrade(
      port: number,
      host: string,
      done: (text: string) => boolean,
    ): Promise<{ text: string; closedByProxy: () => boolean; socket: net.Socket }> {
      const socket = net.connect(port, '127.0.0.1');
      let text = '';
      let closed = false;
      socket.on('data', (chunk) => (text += String(chunk)));
      socket.on('close', () => (closed = true));
      socket.on('error', () => undefined);
      // A reset, not a FIN: the proxy never ends these sockets itself (see the bug below), and a
      // half-closed one would keep proxy.close() waiting.
      cleanups.push(async () => void socket.resetAndDestroy());
      socket.write(`GET /ws HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n`);
      await until(() => done(text), 'the answer');
      return { text, closedByProxy: () => closed, socket };
    }

    it('answers 404 to an upgrade for an unknown host', async () => {
      const { proxy, port } = await startProxy();
      watchUpgradeSockets(proxy);
      const { text } = await refusedUpgrade(port, 'nobody.test', (received) => received.includes('"nobody.test"'));
      expect(text).toMatch(/^HTTP\/1\.1 404 /);
      expect(text.toLowerCase()).toContain('connection: close');
    });

    // BUG (src/proxy/proxy-server.ts:262-269, 295-297): an upgrade the proxy answers itself
    // (unknown host 404, missing Host 400, unavailable or startup-timeout 503) is written
    // through a ServerResponse bound to the raw socket, with "Connection: close", but the
    // socket is never ended: nothing of the HTTP server's own end-of-response handling runs
    // for a detached upgrade socket. The client's connection stays open until the client
    // closes it, and such sockets are in neither closeAllConnections() nor upgradedSockets,
    // so proxy.close() waits for them indefinitely.
    // Fix: in handleUpgrade, end the socket once a refusal is written, e.g.
    // `res.on('finish', () => socket.end())` right after assignSocket (or socket.destroySoon()),
    // and track the socket in upgradedSockets from the start so close() can destroy it.
    // (Even a client that closes its end only half-closes the proxy's socket, which stays.)
    // The HTTP→HTTPS redirect (tls/tls-proxy.ts) is an intercept: an upgrade must meet it
    // too, or a WebSocket of a service that requires HTTPS is spliced through in the clear.
    it('gives an upgrade the intercept every request gets: redirected, never spliced', async () => {
      const address = await startUpgradeBackend(true);
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [address] });
      const seen: { url: string; encrypted: boolean }[] = [];
      proxy.setIntercept((request) => {
        seen.push({ url: request.url, encrypted: request.encrypted });
        return request.encrypted ? undefined : respond.httpsRequired(`https://${request.hostHeader}${request.url}`);
      });
      watchUpgradeSockets(proxy);
      const { text, closedByProxy } = await refusedUpgrade(port, HOST, (received) => received.includes('moved to'));
      expect(text).toMatch(/^HTTP\/1\.1 301 /);
      expect(text).toContain(`location: https://${HOST}/ws\r\n`);
      expect(text).not.toContain('101');
      expect(seen).toEqual([{ url: '/ws', encrypted: false }]);
      await until(closedByProxy, 'the proxy to close the connection', 1_000);
      expect((await proxy.getService('web'))?.activity.inFlight).toBe(0);
    });

    it('closes the connection after refusing an upgrade', async () => {
      const { proxy, port } = await startProxy();
      watchUpgradeSockets(proxy);
      const { closedByProxy } = await refusedUpgrade(port, 'nobody.test', (received) =>
        received.includes('"nobody.test"'),
      );
      await until(closedByProxy, 'the proxy to close the connection', 500);
    });

    // BUG (src/proxy/websocket.ts:43-51): the spliced sockets only end the connection on
    // 'close'. When the client goes away it sends a FIN; the server socket is half-open
    // (allowHalfOpen), pipe() just forwards the FIN, and if the app does not close its side
    // on FIN, neither socket ever closes: the connection stays counted in flight forever, so
    // the service never idles (no scale to zero) and drains/close() wait for their timeout.
    // Fix: treat 'end' from either side as the end of the tunnel for upgrades (destroy both,
    // as nginx finalises an upgraded connection on EOF from either side), or end the other
    // side and destroy both after a short grace.
    // BUG, severe (src/proxy/proxy-server.ts:261-273 and src/proxy/websocket.ts:21-66):
    // Node removes its own 'error' listener from a socket once it emits 'upgrade'. handleUpgrade
    // adds none, and forwardUpgrade adds one only after the target has switched protocols. So
    // for an upgrade the proxy refuses (404/400/503) or holds (cold start), a client that
    // resets the connection (ECONNRESET) raises an 'error' event with no listener: an uncaught
    // exception that takes the whole proxy process down. One TCP connection from anyone
    // (`Upgrade: websocket` to an unknown host, then RST) crashes `luma proxy run`.
    // (This test watches the listener instead of crashing the test process.)
    // Fix: first thing in handleUpgrade, `socket.on('error', () => socket.destroy())` (and
    // treat it as an abort of a held request).
    it('guards an upgrade socket it refuses against connection errors', async () => {
      const { proxy, port } = await startProxy();
      const errorListeners = watchUpgradeSockets(proxy);
      await refusedUpgrade(port, 'nobody.test', (received) => received.includes('"nobody.test"'));
      await until(() => errorListeners.length === 1, 'the upgrade socket to be seen');
      expect(errorListeners[0]).toBeGreaterThan(0);
    });

    it('ends the tunnel when the client goes away, even if the app ignores the FIN', async () => {
      const address = await startUpgradeBackend(false);
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [address] });
      const { socket } = await openUpgraded(port);
      expect((await proxy.getService('web'))?.activity.inFlight).toBe(1);
      socket.destroy();
      await until(
        async () => (await proxy.getService('web'))?.activity.inFlight === 0,
        'the upgraded connection to end',
        500,
      );
    });
  });

  describe(`ProxyServer (${path}): activity and draining`, () => {
    it('records the last activity, requests in flight and held requests per service', async () => {
      let clock = 1_000;
      const backend = await startHeldBackend();
      const { proxy, port } = await startProxy({ now: () => clock, hooks: { wake: () => undefined } });
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
      await proxy.deploy({ service: 'cold', hosts: ['cold.test'], targets: [], startupTimeoutMs: 5_000 });
      expect((await proxy.getService('web'))?.activity).toEqual({ inFlight: 0, waiting: 0 });

      const first = send(port);
      await until(() => backend.arrived() === 1, 'the request at the backend');
      let info = await proxy.getService('web');
      expect(info?.activity).toEqual({ lastActivityAt: 1_000, inFlight: 1, waiting: 0 });
      expect(info?.targets).toEqual([{ address: backend.address, inFlight: 1 }]);

      clock = 2_500;
      backend.release();
      expect((await first).status).toBe(200);
      info = await proxy.getService('web');
      expect(info?.activity).toEqual({ lastActivityAt: 2_500, inFlight: 0, waiting: 0 });
      expect(info?.targets).toEqual([{ address: backend.address, inFlight: 0 }]);

      clock = 3_000;
      const held = send(port, { host: 'cold.test' });
      await until(async () => (await proxy.getService('cold'))?.activity.waiting === 1, 'a held request');
      expect((await proxy.getService('cold'))?.activity).toEqual({ lastActivityAt: 3_000, inFlight: 0, waiting: 1 });
      // The other service's activity is its own.
      expect((await proxy.getService('web'))?.activity.lastActivityAt).toBe(2_500);
      await proxy.remove('cold');
      await held;

      const listed = await proxy.listServices();
      expect(listed.map((service) => service.service)).toEqual(['web']);
    });

    it('resolves a deploy that removes a target only once its in-flight request finished', async () => {
      const old = await startHeldBackend();
      const next = await startBackend((_req, res) => res.end('next'));
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [old.address] });

      const inFlight = send(port);
      await until(() => old.arrived() === 1, 'the request at the old target');
      const deploy = tracked(proxy.deploy({ service: 'web', hosts: [HOST], targets: [next.address] }));

      // New requests go to the new target at once, while the deploy still drains the old one.
      expect((await send(port)).body).toBe('next');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(deploy.settled()).toBe(false);

      old.release();
      await deploy.promise;
      const reply = await inFlight;
      expect(reply.status).toBe(200);
      expect(reply.body).toBe('released');
    });

    it('gives up draining after the drain timeout', async () => {
      const old = await startHeldBackend();
      const { proxy, port } = await startProxy({ drainTimeoutMs: 100 });
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [old.address] });
      const inFlight = send(port);
      await until(() => old.arrived() === 1, 'the request at the old target');
      const started = Date.now();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [] });
      expect(Date.now() - started).toBeGreaterThanOrEqual(90);
      old.release();
      await inFlight;
    });

    it('close() lets in-flight requests finish before it resolves', async () => {
      const backend = await startHeldBackend();
      const proxy = new ProxyServer({ fastPath });
      const { port } = await proxy.listen('127.0.0.1', 0);
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
      const inFlight = send(port);
      await until(() => backend.arrived() === 1, 'the request at the target');
      const closing = tracked(proxy.close());
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(closing.settled()).toBe(false);
      backend.release();
      expect((await inFlight).body).toBe('released');
      await closing.promise;
    });

    it('resolves remove() once the removed service has no request in flight', async () => {
      const old = await startHeldBackend();
      const { proxy, port } = await startProxy();
      await proxy.deploy({ service: 'web', hosts: [HOST], targets: [old.address] });
      const inFlight = send(port);
      await until(() => old.arrived() === 1, 'the request at the target');
      const removal = tracked(proxy.remove('web'));
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(removal.settled()).toBe(false);
      expect((await send(port)).status).toBe(404);
      old.release();
      await removal.promise;
      expect((await inFlight).status).toBe(200);
    });
  });
}
