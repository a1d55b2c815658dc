import http, { type IncomingHttpHeaders } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { ForwardOutcome } from '../../../../src/proxy/exchange.js';
import { UpstreamPool } from '../../../../src/proxy/http1/upstream-pool.js';
import { respond } from '../../../../src/proxy/responses.js';
import { Target } from '../../../../src/proxy/route-table.js';
import { Http2Exchange } from '../../../../src/proxy/tls/http2-exchange.js';

// Http2Exchange on a plain (h2c) server: the same stream API as the HTTPS listener's.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Seen {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingHttpHeaders;
  body: string;
}

async function listen(server: http.Server | http2.Http2Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

async function backend(): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.setHeader('connection', 'keep-alive');
      res.end(`saw ${req.method} ${req.url} ${body}`);
    });
  });
  return { port: await listen(server), seen };
}

/** Each forward's outcome, in order, for the proxy() servers of a test. */
const outcomes: ForwardOutcome[] = [];
afterEach(() => {
  outcomes.length = 0;
});

/** An h2c server whose streams are forwarded to `port`, or answered with `answer`. */
async function proxy(
  port: number,
  answer?: Parameters<Http2Exchange['answer']>[0],
  responseTimeoutMs = 5_000,
): Promise<number> {
  const pool = new UpstreamPool();
  cleanups.push(() => pool.close());
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const exchange = new Http2Exchange(stream, headers, pool);
    if (answer) exchange.answer(answer);
    else
      void exchange
        .forward(Target.parse(`127.0.0.1:${port}`), { responseTimeoutMs, trustForwardedHeaders: false })
        .then((outcome) => {
          outcomes.push(outcome);
          if (outcome.kind !== 'response') exchange.answer(respond.badGateway('app', outcome.kind));
        });
  });
  return listen(server);
}

function request(
  port: number,
  headers: http2.OutgoingHttpHeaders,
  body?: string,
): Promise<{ headers: http2.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', reject);
    const stream = session.request(headers, { endStream: body === undefined });
    let responseHeaders: http2.IncomingHttpHeaders = {};
    let text = '';
    stream.on('response', (received) => (responseHeaders = received));
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (text += chunk));
    stream.on('end', () => {
      session.close();
      resolve({ headers: responseHeaders, body: text });
    });
    stream.on('error', reject);
    if (body !== undefined) stream.end(body);
  });
}

describe('Http2Exchange', () => {
  it('forwards with Host from :authority, X-Forwarded-* of its own and no pseudo-headers; relays repeated headers apart', async () => {
    const { port, seen } = await backend();
    const proxyPort = await proxy(port);
    const answer = await request(proxyPort, {
      ':path': '/p?q=1',
      ':authority': 'app.test',
      'x-forwarded-for': '6.6.6.6',
      x_forwarded_for: '6.6.6.6',
      'x-request-id': 'abc-123',
    });
    expect(answer.body).toBe('saw GET /p?q=1 ');
    expect(answer.headers[':status']).toBe(200);
    expect(answer.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(answer.headers.connection).toBeUndefined();
    const [upstream] = seen;
    expect(upstream?.headers.host).toBe('app.test');
    expect(upstream?.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(upstream?.headers['x-forwarded-proto']).toBe('https');
    expect(upstream?.headers['x-forwarded-host']).toBe('app.test');
    expect(upstream?.headers['x-request-id']).toBe('abc-123');
    expect(upstream?.headers.x_forwarded_for).toBeUndefined();
    expect(Object.keys(upstream?.headers ?? {}).some((name) => name.startsWith(':'))).toBe(false);
  });

  it('forwards a request body, and the response still reaches the client (undici destroys a body it sent)', async () => {
    const { port } = await backend();
    const proxyPort = await proxy(port);
    const answer = await request(proxyPort, { ':method': 'POST', ':path': '/up', ':authority': 'app.test' }, 'data');
    expect(answer.body).toBe('saw POST /up data');
  });

  it("writes the proxy's own answers without Connection, and without a body for HEAD", async () => {
    const proxyPort = await proxy(0, respond.shuttingDown());
    const get = await request(proxyPort, { ':path': '/', ':authority': 'app.test' });
    expect(get.headers[':status']).toBe(503);
    expect(get.headers.connection).toBeUndefined();
    expect(get.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(get.body).toContain('shutting down');
    const head = await request(proxyPort, { ':method': 'HEAD', ':path': '/', ':authority': 'app.test' });
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength(respond.shuttingDown().body)));
    expect(head.body).toBe('');
  });

  it('resolves the target from :authority, and reads a Host header first', async () => {
    const pool = new UpstreamPool();
    cleanups.push(() => pool.close());
    const targets: unknown[] = [];
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      targets.push(new Http2Exchange(stream, headers, pool).resolveTarget());
      stream.respond({ ':status': 204 }, { endStream: true });
    });
    const port = await listen(server);
    await request(port, { ':path': '/a', ':authority': 'one.test' });
    await request(port, { ':path': '/b', ':authority': 'one.test', host: 'two.test' });
    await request(port, { ':path': '/c', ':authority': 'app.test:99999' });
    expect(targets[0]).toMatchObject({ ok: true, host: 'one.test', path: '/a' });
    expect(targets[1]).toMatchObject({ ok: true, host: 'two.test', path: '/b' });
    expect(targets[2]).toMatchObject({ ok: false });
  });

  it('decodes a chunked response, sends a body of unknown length chunked, and reuses the upstream connection', async () => {
    const seen: IncomingHttpHeaders[] = [];
    let connections = 0;
    const server = http.createServer((req, res) => {
      seen.push(req.headers);
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        res.write('part one, ');
        res.end(`then ${body || 'nothing'}`);
      });
    });
    server.on('connection', () => connections++);
    const port = await listen(server);
    const proxyPort = await proxy(port);
    const posted = await request(proxyPort, { ':method': 'POST', ':path': '/', ':authority': 'app.test' }, 'data');
    expect(posted.body).toBe('part one, then data');
    expect(posted.headers['transfer-encoding']).toBeUndefined();
    expect(seen[0]?.['transfer-encoding']).toBe('chunked');
    const got = await request(proxyPort, { ':path': '/', ':authority': 'app.test' });
    expect(got.body).toBe('part one, then nothing');
    expect(connections).toBe(1);
    expect(outcomes).toEqual([
      { kind: 'response', status: 200 },
      { kind: 'response', status: 200 },
    ]);
  });

  it('relays a large response whole, through the stream’s flow control', async () => {
    const large = Buffer.alloc(3 * 1024 * 1024, 'x');
    const server = http.createServer((_req, res) => res.end(large));
    const proxyPort = await proxy(await listen(server));
    const answer = await request(proxyPort, { ':path': '/', ':authority': 'app.test' });
    expect(answer.body.length).toBe(large.length);
    expect(answer.headers['content-length']).toBe(String(large.length));
  });

  it('times out a target that never answers, and answers 502 for a head node:http2 refuses', async () => {
    const silent = http.createServer(() => undefined);
    const slowPort = await proxy(await listen(silent), undefined, 200);
    const slow = await request(slowPort, { ':path': '/', ':authority': 'app.test' });
    expect(slow.headers[':status']).toBe(502);
    const twice = http.createServer((_req, res) => {
      res.setHeader('content-type', ['text/plain', 'text/html']);
      res.end('x');
    });
    const twicePort = await proxy(await listen(twice));
    const refused = await request(twicePort, { ':path': '/', ':authority': 'app.test' });
    expect(refused.headers[':status']).toBe(502);
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['response-timeout', 'upstream-error']);
  });

  it('opens a new upstream connection once the target closed the kept one', async () => {
    const server = http.createServer((_req, res) => res.end('ok'));
    server.keepAliveTimeout = 50;
    const proxyPort = await proxy(await listen(server));
    expect((await request(proxyPort, { ':path': '/', ':authority': 'app.test' })).body).toBe('ok');
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await request(proxyPort, { ':path': '/', ':authority': 'app.test' })).body).toBe('ok');
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['response', 'response']);
  });

  it('passes 103 Early Hints on before the final head', async () => {
    const server = http.createServer((_req, res) => {
      res.writeEarlyHints({ link: '</style.css>; rel=preload; as=style' });
      setTimeout(() => res.end('done'), 20);
    });
    const proxyPort = await proxy(await listen(server));
    const hints = await new Promise<http2.IncomingHttpHeaders[]>((resolve, reject) => {
      const session = http2.connect(`http://127.0.0.1:${proxyPort}`);
      session.on('error', reject);
      const stream = session.request({ ':path': '/', ':authority': 'app.test' });
      const informational: http2.IncomingHttpHeaders[] = [];
      stream.on('headers', (headers) => informational.push(headers));
      stream.resume();
      stream.on('end', () => {
        session.close();
        resolve(informational);
      });
      stream.on('error', reject);
    });
    expect(hints).toHaveLength(1);
    expect(hints[0]?.[':status']).toBe(103);
    expect(hints[0]?.link).toBe('</style.css>; rel=preload; as=style');
  });
});
