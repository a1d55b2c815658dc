import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { QUEUE_FULL_RETRY_AFTER_SECONDS } from '../../../src/proxy/responses.js';
import { ProxyServer } from '../../../src/proxy/proxy-server.js';

// A service's whole-request deadline (requestTimeoutMs, from spec.timeout) and its hard
// concurrency cap (maxConcurrency, with its bounded queue), through a real ProxyServer
// and loopback backends: on the fast path, on node:http alone, and on HTTP/2 streams.
// Durations are short (a few hundred ms); nothing here needs Docker. Each test waits on
// real time with its own proxy and backends, so the tests of a describe run concurrently
// (9.6 s one after the other, most of it idle); what they opened is closed after them all.

const HOST = 'app.test';
const cleanups: Array<() => Promise<void> | void> = [];
afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(server: http.Server | http2.Http2Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if (server instanceof http.Server) server.closeAllConnections();
      }),
  );
  return (server.address() as AddressInfo).port;
}

async function backend(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  return `127.0.0.1:${await listen(http.createServer(handler))}`;
}

async function proxyOn(fastPath: boolean): Promise<{ proxy: ProxyServer; port: number }> {
  const proxy = new ProxyServer({ fastPath });
  const { port } = await proxy.listen('127.0.0.1', 0);
  cleanups.push(() => proxy.close());
  return { proxy, port };
}

interface Answer {
  status: number;
  retryAfter?: string;
  body: string;
  /** The connection was cut before the answer ended. */
  cut: boolean;
  ms: number;
}

function get(port: number, path = '/'): Promise<Answer> {
  const started = Date.now();
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, headers: { host: HOST } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      const done = (cut: boolean) => () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          cut,
          ms: Date.now() - started,
          ...(res.headers['retry-after'] ? { retryAfter: res.headers['retry-after'] } : {}),
        });
      res.on('end', done(false));
      res.on('aborted', done(true));
      res.on('error', () => undefined);
    });
    req.on('error', () => resolve({ status: 0, body: '', cut: true, ms: Date.now() - started }));
  });
}

/** A backend that answers the head after `headMs`, then `bodyMs` later the end; counts what it serves at once. */
async function slowBackend(headMs: number, bodyMs = 0): Promise<{ address: string; maxInFlight: () => number }> {
  let inFlight = 0;
  let max = 0;
  const address = await backend((_req, res) => {
    max = Math.max(max, ++inFlight);
    const finish = (): void => {
      inFlight--;
      res.end('done');
    };
    setTimeout(() => {
      if (bodyMs === 0) return finish();
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('started ');
      setTimeout(finish, bodyMs);
    }, headMs);
    res.on('close', () => {
      if (!res.writableFinished) inFlight--;
    });
  });
  return { address, maxInFlight: () => max };
}

describe.concurrent.each([
  ['fast path', true],
  ['node:http', false],
])('the request timeout on the %s', (_name, fastPath) => {
  it('answers 504 at the limit when no head came, and lets an answer within it through', async () => {
    const slow = await slowBackend(1_000);
    const quick = await slowBackend(300);
    const { proxy, port } = await proxyOn(fastPath);
    await proxy.deploy({ service: 'slow', hosts: [HOST], targets: [slow.address], requestTimeoutMs: 400 });
    const late = await get(port);
    expect(late.status).toBe(504);
    expect(late.body).toContain('did not answer within its timeout of 0.4s');
    expect(late.ms).toBeGreaterThanOrEqual(390);
    expect(late.ms).toBeLessThan(900);

    await proxy.deploy({ service: 'slow', hosts: [HOST], targets: [quick.address], requestTimeoutMs: 1_000 });
    expect(await get(port)).toMatchObject({ status: 200, body: 'done', cut: false });
  });

  it('cuts an answer that began but did not end within the limit', async () => {
    const streaming = await slowBackend(50, 2_000);
    const { proxy, port } = await proxyOn(fastPath);
    await proxy.deploy({ service: 'app', hosts: [HOST], targets: [streaming.address], requestTimeoutMs: 400 });
    const answer = await get(port);
    expect(answer).toMatchObject({ status: 200, cut: true, body: 'started ' });
    expect(answer.ms).toBeLessThan(1_500);
  });

  it('counts the hold for a cold start in the limit', async () => {
    const { proxy, port } = await proxyOn(fastPath);
    await proxy.deploy({ service: 'app', hosts: [HOST], targets: [], requestTimeoutMs: 300, startupTimeoutMs: 5_000 });
    const answer = await get(port);
    expect(answer.status).toBe(504);
    expect(answer.ms).toBeLessThan(2_000);
    expect((await proxy.getService('app'))?.activity.waiting).toBe(0);
  });
});

describe.concurrent.each([
  ['fast path', true],
  ['node:http', false],
])('maxConcurrency on the %s', (_name, fastPath) => {
  it('never has more than the cap in flight per target; the rest queue and are served in turn', async () => {
    const first = await slowBackend(150);
    const second = await slowBackend(150);
    const { proxy, port } = await proxyOn(fastPath);
    await proxy.deploy({
      service: 'app',
      hosts: [HOST],
      targets: [first.address, second.address],
      maxConcurrency: 1,
    });
    const answers = await Promise.all(Array.from({ length: 8 }, () => get(port)));
    expect(answers.map((answer) => answer.status)).toEqual(Array(8).fill(200));
    expect([first.maxInFlight(), second.maxInFlight()]).toEqual([1, 1]);
    // Eight requests two at a time: the last ones waited about three turns of 150 ms.
    expect(Math.max(...answers.map((answer) => answer.ms))).toBeGreaterThanOrEqual(550);
  });

  it('answers 429 with Retry-After past the queue bound, and only past it', async () => {
    const slow = await slowBackend(400);
    const { proxy, port } = await proxyOn(fastPath);
    await proxy.deploy({ service: 'app', hosts: [HOST], targets: [slow.address], maxConcurrency: 1, maxQueued: 2 });
    const answers = await Promise.all(Array.from({ length: 5 }, () => get(port)));
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
    for (const refused of answers.filter((answer) => answer.status === 429)) {
      expect(refused.retryAfter).toBe(String(QUEUE_FULL_RETRY_AFTER_SECONDS));
      expect(refused.ms).toBeLessThan(300);
    }
    expect(slow.maxInFlight()).toBe(1);
  });

  it('lets a queued request wait at most its timeout', async () => {
    const slow = await slowBackend(1_500);
    const { proxy, port } = await proxyOn(fastPath);
    await proxy.deploy({
      service: 'app',
      hosts: [HOST],
      targets: [slow.address],
      maxConcurrency: 1,
      requestTimeoutMs: 400,
    });
    const [served, queued] = await Promise.all([
      get(port),
      new Promise((r) => setTimeout(r, 50)).then(() => get(port)),
    ]);
    expect(served.status).toBe(504);
    expect(queued.status).toBe(504);
    expect(queued.ms).toBeLessThan(900);
    const info = await proxy.getService('app');
    expect(info?.activity).toMatchObject({ waiting: 0 });
  });

  it('wakes the controller when a request has to queue behind busy targets', async () => {
    const slow = await slowBackend(300);
    const woken: string[] = [];
    const { proxy, port } = await proxyOn(fastPath);
    proxy.setHooks({ wake: (service) => woken.push(service) });
    await proxy.deploy({ service: 'app', hosts: [HOST], targets: [slow.address], maxConcurrency: 1 });
    const first = get(port);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = get(port);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await proxy.getService('app'))?.activity).toMatchObject({ inFlight: 1, waiting: 1 });
    expect(woken).toContain('app');
    expect((await Promise.all([first, second])).map((answer) => answer.status)).toEqual([200, 200]);
  });
});

describe.concurrent('the request timeout on HTTP/2 streams', () => {
  async function h2Proxy(target: string, requestTimeoutMs: number): Promise<number> {
    const proxy = new ProxyServer();
    cleanups.push(() => proxy.close());
    await proxy.deploy({ service: 'app', hosts: [HOST], targets: [target], requestTimeoutMs });
    const server = http2.createServer();
    server.on('stream', (stream, headers) => void proxy.handleHttp2Stream(stream, headers));
    return listen(server);
  }

  function h2Get(port: number): Promise<{ status: number; body: string; ms: number }> {
    const started = Date.now();
    return new Promise((resolve) => {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      session.on('error', () => undefined);
      const stream = session.request({ ':path': '/', ':authority': HOST });
      let status = 0;
      let body = '';
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => (body += chunk));
      stream.on('error', () => undefined);
      stream.on('close', () => {
        session.close();
        resolve({ status, body, ms: Date.now() - started });
      });
    });
  }

  it('answers 504 when no head came in time', async () => {
    const slow = await slowBackend(1_000);
    const answer = await h2Get(await h2Proxy(slow.address, 300));
    expect(answer.status).toBe(504);
    // The wait for the head follows the request's timeout, so either deadline may say it first.
    expect(answer.body).toMatch(/did not answer within (its timeout of )?0\.3s/);
  });

  it('cuts a stream whose answer began but did not end in time (its end never comes)', async () => {
    const streaming = await slowBackend(50, 2_000);
    const answer = await h2Get(await h2Proxy(streaming.address, 300));
    expect(answer).toMatchObject({ status: 200, body: 'started ' });
    expect(answer.ms).toBeLessThan(1_500);
  });
});
