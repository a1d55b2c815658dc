import http from 'node:http';
import http2, { type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyServer } from '../../../../src/proxy/proxy-server.js';

// The proxy speaking h2c to an app (spec.http2), end to end through ProxyServer: HTTP/2
// clients come in on an h2c front that hands its streams to handleHttp2Stream (the HTTPS
// listener's entry, without the TLS), HTTP/1.1 clients on the proxy's own listener. The
// app is a real node:http2 cleartext server.

const HOST = 'grpc.test';
const { NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR } = http2.constants;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function listen(server: http2.Http2Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

interface App {
  address: string;
  /** Sessions the app accepted, in order. */
  sessions: http2.ServerHttp2Session[];
  /** The request heads the app received. */
  heads: IncomingHttpHeaders[];
}

/** Echoes each DATA chunk as it arrives, then trailers naming the request's own trailer. */
function echo(stream: ServerHttp2Stream): void {
  let requestTrailer = 'none';
  stream.on('trailers', (trailers: IncomingHttpHeaders) => (requestTrailer = String(trailers['x-client-trailer'])));
  stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' }, { waitForTrailers: true });
  stream.on('wantTrailers', () =>
    stream.sendTrailers({ 'x-app-trailer': 'done', 'x-saw-client-trailer': requestTrailer }),
  );
  stream.on('data', (chunk: Buffer) => stream.write(chunk));
  stream.on('end', () => stream.end());
}

const ROUTES: Record<string, (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void> = {
  '/echo': echo,
  '/head': (stream, headers) => {
    stream.respond({ ':status': 200, 'content-type': 'application/json' });
    stream.end(JSON.stringify(headers));
  },
  '/reset': (stream) => stream.close(NGHTTP2_INTERNAL_ERROR),
  '/reset-midway': (stream) => {
    stream.respond({ ':status': 200 });
    // destroy(), not close(): node's close() ends the writable side first, a clean end on the wire.
    stream.write('part one ', () => setTimeout(() => stream.destroy(new Error('the app failed')), 20));
  },
  '/crash-midway': (stream) => {
    stream.respond({ ':status': 200 });
    stream.write('part one ', () => setTimeout(() => stream.session?.destroy(), 20));
  },
  '/goaway': (stream) => {
    stream.respond({ ':status': 200 });
    stream.end('bye');
    // GOAWAY: this session takes no new stream; the proxy must open another one.
    stream.session?.goaway(NGHTTP2_NO_ERROR, stream.id ?? 0);
  },
  '/silent': () => undefined,
  '/flood': flood,
};

const FLOOD_BYTES = 32 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'x');
/** Bytes the app's /flood has handed to its stream so far: it writes only as fast as the stream takes them. */
let flooded = 0;

function flood(stream: ServerHttp2Stream): void {
  flooded = 0;
  stream.respond({ ':status': 200 });
  const more = (): void => {
    while (flooded < FLOOD_BYTES) {
      flooded += CHUNK.length;
      if (!stream.write(CHUNK)) {
        stream.once('drain', more);
        return;
      }
    }
    stream.end();
  };
  more();
}

async function app(): Promise<App> {
  const server = http2.createServer();
  const seen: App = { address: '', sessions: [], heads: [] };
  server.on('session', (session) => seen.sessions.push(session));
  server.on('stream', (stream, headers) => {
    seen.heads.push(headers);
    stream.on('error', () => undefined);
    const path = String(headers[':path']).split('?')[0] ?? '';
    (ROUTES[path] ?? ROUTES['/head'])?.(stream, headers);
  });
  seen.address = `127.0.0.1:${await listen(server)}`;
  cleanups.push(() => {
    for (const session of seen.sessions) session.destroy();
  });
  return seen;
}

/** A proxy with an h2c service in front of `target`, reachable over h2c (HTTP/2 clients) and HTTP/1.1. */
async function proxyTo(
  target: string | undefined,
  timeouts: { responseTimeoutMs?: number; startupTimeoutMs?: number } = {},
) {
  const proxy = new ProxyServer({ drainTimeoutMs: 100 });
  cleanups.push(() => proxy.close());
  const targets = target ? [target] : [];
  await proxy.deploy({ service: 'grpc', hosts: [HOST], targets, h2c: true, ...timeouts });
  const http1Port = (await proxy.listen('127.0.0.1', 0)).port;
  const front = http2.createServer();
  front.on('stream', (stream, headers) => void proxy.handleHttp2Stream(stream, headers));
  const http2Port = await listen(front);
  return { proxy, http1Port, http2Port };
}

function session(port: number): http2.ClientHttp2Session {
  const client = http2.connect(`http://127.0.0.1:${port}`);
  client.on('error', () => undefined);
  cleanups.push(() => void client.destroy());
  return client;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  trailers: IncomingHttpHeaders;
  rstCode: number;
}

/** One HTTP/2 request; resolves when the stream closes, however it closed. */
function exchange(
  client: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: string,
): Promise<Answer> {
  return new Promise((resolve) => {
    const stream = client.request({ ':authority': HOST, ...headers }, { endStream: body === undefined });
    const answer: Answer = { status: 0, headers: {}, body: '', trailers: {}, rstCode: 0 };
    stream.on('response', (received) => {
      answer.status = Number(received[':status']);
      answer.headers = received;
    });
    stream.on('trailers', (trailers) => (answer.trailers = trailers));
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => (answer.body += chunk));
    stream.on('error', () => undefined);
    stream.on('close', () => resolve({ ...answer, rstCode: stream.rstCode ?? 0 }));
    if (body !== undefined) stream.end(body);
  });
}

describe('h2c to the app (spec.http2)', () => {
  it('streams the request and response bodies both ways, chunk by chunk, and passes trailers both ways', async () => {
    const backend = await app();
    const { http2Port } = await proxyTo(backend.address);
    const client = session(http2Port);
    const stream = client.request(
      { ':method': 'POST', ':path': '/echo', ':authority': HOST, te: 'trailers' },
      { waitForTrailers: true },
    );
    stream.setEncoding('utf8');
    const echoed: string[] = [];
    const next = (): Promise<string> => new Promise((resolve) => stream.once('data', resolve));
    // Each chunk comes back before the next is sent: neither direction waits for the end.
    for (const chunk of ['one', 'two', 'three']) {
      stream.write(chunk);
      echoed.push(await next());
    }
    const trailers = new Promise<IncomingHttpHeaders>((resolve) => stream.once('trailers', resolve));
    stream.once('wantTrailers', () => stream.sendTrailers({ 'x-client-trailer': 'sent-last' }));
    stream.end();
    expect(echoed).toEqual(['one', 'two', 'three']);
    const received = await trailers;
    expect(received['x-app-trailer']).toBe('done');
    expect(received['x-saw-client-trailer']).toBe('sent-last');
  });

  it('holds the app back while the client does not read (backpressure), then delivers every byte', async () => {
    const backend = await app();
    const { http2Port } = await proxyTo(backend.address);
    const stream = session(http2Port).request({ ':path': '/flood', ':authority': HOST }, { endStream: true });
    stream.pause();
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Flow-control windows and socket buffers on both hops (about 1 MiB here), not the 32 MiB the app has to send.
    expect(flooded).toBeGreaterThan(0);
    expect(flooded).toBeLessThan(8 * 1024 * 1024);
    let received = 0;
    stream.on('data', (chunk: Buffer) => (received += chunk.length));
    stream.resume();
    await new Promise((resolve) => stream.once('end', resolve));
    expect(received).toBe(FLOOD_BYTES);
  });

  it('writes the pseudo-headers itself, keeps TE only as trailers, drops hop-by-hop headers and sets X-Forwarded-*', async () => {
    const backend = await app();
    const { http2Port } = await proxyTo(backend.address);
    const answer = await exchange(session(http2Port), {
      ':path': '/head?x=1',
      te: 'trailers',
      'x-forwarded-for': '6.6.6.6',
      'x-request-id': 'req-1',
    });
    expect(answer.status).toBe(200);
    const head = JSON.parse(answer.body) as IncomingHttpHeaders;
    expect(head[':authority']).toBe(HOST);
    expect(head[':scheme']).toBe('http');
    expect(head[':path']).toBe('/head?x=1');
    expect(head.te).toBe('trailers');
    expect(head.host).toBeUndefined();
    expect(head['x-forwarded-for']).toBe('127.0.0.1');
    expect(head['x-forwarded-proto']).toBe('https');
    expect(head['x-request-id']).toBe('req-1');
  });

  it('multiplexes requests on one session, and opens a new one after the app sends GOAWAY', async () => {
    const backend = await app();
    const { http2Port } = await proxyTo(backend.address);
    const client = session(http2Port);
    const first = await Promise.all([1, 2, 3].map(() => exchange(client, { ':path': '/head' })));
    expect(first.map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(backend.sessions).toHaveLength(1);
    expect((await exchange(client, { ':path': '/goaway' })).body).toBe('bye');
    const after = await exchange(client, { ':path': '/head' });
    expect(after.status).toBe(200);
    expect(backend.sessions).toHaveLength(2);
  });

  it('opens a new session after the app closed its connection', async () => {
    const backend = await app();
    const { http2Port } = await proxyTo(backend.address);
    const client = session(http2Port);
    expect((await exchange(client, { ':path': '/head' })).status).toBe(200);
    backend.sessions[0]?.destroy();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await exchange(client, { ':path': '/head' })).status).toBe(200);
    expect(backend.sessions).toHaveLength(2);
  });

  it('answers 502 when the app resets the stream before its head, and resets the client stream when midway', async () => {
    const backend = await app();
    const { http2Port } = await proxyTo(backend.address);
    const client = session(http2Port);
    const before = await exchange(client, { ':path': '/reset' });
    expect(before.status).toBe(502);
    const midway = await exchange(client, { ':path': '/reset-midway' });
    expect(midway.status).toBe(200);
    expect(midway.body).toBe('part one ');
    expect(midway.rstCode).toBe(NGHTTP2_INTERNAL_ERROR);
    // The session survives a reset stream: the next request is served on it.
    expect((await exchange(client, { ':path': '/head' })).status).toBe(200);
    expect(backend.sessions).toHaveLength(1);
  });

  it('resets the client stream, not a clean end, when the app connection dies midway; the next request reconnects', async () => {
    const backend = await app();
    const { http2Port } = await proxyTo(backend.address);
    const client = session(http2Port);
    const crashed = await exchange(client, { ':path': '/crash-midway' });
    expect(crashed.body).toBe('part one ');
    expect(crashed.rstCode).not.toBe(0);
    expect(crashed.trailers).toEqual({});
    expect((await exchange(client, { ':path': '/head' })).status).toBe(200);
    expect(backend.sessions).toHaveLength(2);
  });

  it('drops a target that refuses connections and holds the request (503 past the startup timeout); 504 past the response timeout', async () => {
    const backend = await app();
    const refused = await proxyTo('127.0.0.1:1', { startupTimeoutMs: 200 });
    const held = await exchange(session(refused.http2Port), { ':path': '/head' });
    expect(held.status).toBe(503);
    expect((await refused.proxy.getService('grpc'))?.targets).toEqual([]);
    const slow = await proxyTo(backend.address, { responseTimeoutMs: 200 });
    expect((await exchange(session(slow.http2Port), { ':path': '/silent' })).status).toBe(504);
  });

  it('holds a request while the service has no target and forwards it over h2c once one is deployed', async () => {
    const backend = await app();
    const { proxy, http2Port } = await proxyTo(undefined);
    proxy.setHooks({
      wake: () => void proxy.deploy({ service: 'grpc', hosts: [HOST], targets: [backend.address], h2c: true }),
    });
    const answer = await exchange(session(http2Port), { ':path': '/head' });
    expect(answer.status).toBe(200);
    expect(backend.heads).toHaveLength(1);
  });

  it('translates HTTP/1.1 requests: chunked bodies stream both ways and trailers cross in the chunked trailer section', async () => {
    const backend = await app();
    const { http1Port } = await proxyTo(backend.address);
    const answer = await new Promise<{ status: number; body: string; trailers: NodeJS.Dict<string> }>(
      (resolve, reject) => {
        const req = http.request(
          { port: http1Port, method: 'POST', path: '/echo', headers: { host: HOST, te: 'trailers' } },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (chunk: string) => (body += chunk));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body, trailers: res.trailers }));
          },
        );
        req.on('error', reject);
        req.write('over ');
        req.addTrailers({ 'x-client-trailer': 'http1' });
        req.end('http/1.1');
      },
    );
    expect(answer.status).toBe(200);
    expect(answer.body).toBe('over http/1.1');
    expect(answer.trailers['x-app-trailer']).toBe('done');
    expect(answer.trailers['x-saw-client-trailer']).toBe('http1');
    const head = backend.heads[0] ?? {};
    expect(head[':authority']).toBe(HOST);
    expect(head.te).toBe('trailers');
  });
});
