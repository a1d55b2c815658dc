import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ProxyServer, type ProxyServerOptions, type RequestRecord } from '../../../../src/proxy/proxy-server.js';

// The proxy's fast path end to end in one process: raw client bytes in, loopback
// backends behind (node:http ones, and raw ones where the test needs exact bytes). Which
// path served each request is read from the proxy's own record of it (onRequestEnd).

const HOST = 'app.test';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Backend {
  address: string;
  /** Connections the backend accepted. */
  connections: () => number;
  /** Requests it received: method, url and headers. */
  seen: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[];
}

async function startBackend(
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void = (_req, res) => res.end('hello'),
): Promise<Backend> {
  const seen: Backend['seen'] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections, seen };
}

/** A backend that answers every request head it reads with `answer(index)`, byte for byte. */
async function startRawBackend(
  answer: (index: number, socket: net.Socket) => void,
): Promise<{ address: string; requests: () => string[] }> {
  const requests: string[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) >= 0) {
        requests.push(buffered.slice(0, end + 4));
        buffered = buffered.slice(end + 4);
        answer(requests.length - 1, socket);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  );
  return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => requests };
}

async function startProxy(
  options: ProxyServerOptions = {},
): Promise<{ proxy: ProxyServer; port: number; records: RequestRecord[] }> {
  const records: RequestRecord[] = [];
  const proxy = new ProxyServer({ ...options, onRequestEnd: (record) => records.push(record) });
  const { port } = await proxy.listen('127.0.0.1', 0);
  cleanups.push(() => proxy.close());
  return { proxy, port, records };
}

interface RawResponse {
  status: number;
  head: string;
  headers: Map<string, string>;
  body: string;
}

/** A client connection that writes raw bytes and reads responses one by one (Content-Length, chunked, or until close). */
class RawClient {
  private buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  closed = false;
  readonly socket: net.Socket;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (chunk) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.waiter?.();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    this.socket.on('error', () => undefined);
    cleanups.push(() => void this.socket.destroy());
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  private async until(ready: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 5_000;
    while (!ready()) {
      if (this.closed && !ready())
        throw new Error(
          `connection closed while waiting for ${what}; got ${JSON.stringify(this.buffer.toString('latin1'))}`,
        );
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.buffer.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 50);
      });
    }
  }

  async response(method = 'GET'): Promise<RawResponse> {
    await this.until(() => this.buffer.includes('\r\n\r\n'), 'a response head');
    const headEnd = this.buffer.indexOf('\r\n\r\n') + 4;
    const head = this.buffer.toString('latin1', 0, headEnd);
    const headers = new Map<string, string>();
    for (const line of head.split('\r\n').slice(1, -2)) {
      const colon = line.indexOf(':');
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    const status = Number(head.slice(9, 12));
    this.buffer = this.buffer.subarray(headEnd);
    if (status < 200) return { status, head, headers, body: '' };
    let body = '';
    const length = headers.get('content-length');
    if (method === 'HEAD' || status === 204 || status === 304) body = '';
    else if (headers.get('transfer-encoding') === 'chunked') {
      for (;;) {
        await this.until(() => this.buffer.includes('\r\n'), 'a chunk size');
        const sizeEnd = this.buffer.indexOf('\r\n');
        const size = parseInt(this.buffer.toString('latin1', 0, sizeEnd), 16);
        await this.until(() => this.buffer.length >= sizeEnd + 2 + size + 2, 'a chunk');
        body += this.buffer.toString('latin1', sizeEnd + 2, sizeEnd + 2 + size);
        this.buffer = this.buffer.subarray(sizeEnd + 2 + size + 2);
        if (size === 0) break;
      }
    } else if (length !== undefined) {
      await this.until(() => this.buffer.length >= Number(length), 'the body');
      body = this.buffer.toString('latin1', 0, Number(length));
      this.buffer = this.buffer.subarray(Number(length));
    } else {
      await this.until(() => this.closed, 'the end of a close-delimited body');
      body = this.buffer.toString('latin1');
      this.buffer = Buffer.alloc(0);
    }
    return { status, head, headers, body };
  }

  async closedByPeer(): Promise<boolean> {
    await this.until(() => this.closed, 'the connection to close');
    return true;
  }
}

function get(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\n${extra}\r\n`;
}

describe('fast path: plain requests', () => {
  it('serves keep-alive requests itself over one kept upstream connection', async () => {
    const backend = await startBackend((req, res) => res.end(`served ${req.url}`));
    const { proxy, port, records } = await startProxy();
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    for (const path of ['/1', '/2', '/3']) {
      client.write(get(path));
      const response = await client.response();
      expect(response.status).toBe(200);
      expect(response.body).toBe(`served ${path}`);
      // Hop-by-hop headers of the target are not passed on.
      expect(response.headers.has('keep-alive')).toBe(false);
      expect(response.headers.has('connection')).toBe(false);
    }
    expect(records.map((record) => [record.via, record.status, record.service])).toEqual([
      ['fast', 200, 'web'],
      ['fast', 200, 'web'],
      ['fast', 200, 'web'],
    ]);
    expect(backend.connections()).toBe(1);
    expect(backend.seen.map((request) => request.headers['x-forwarded-for'])).toEqual([
      '127.0.0.1',
      '127.0.0.1',
      '127.0.0.1',
    ]);
  });

  it('forwards the X-Request-Id a client sent when well-formed, and gives one otherwise', async () => {
    const backend = await startBackend();
    const { proxy, port, records } = await startProxy();
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    client.write(get('/', 'X-Request-Id: abc-123\r\n'));
    await client.response();
    client.write(get('/', 'X-Request-Id: not well formed!\r\n'));
    await client.response();
    client.write(get('/'));
    await client.response();
    const ids = backend.seen.map((request) => request.headers['x-request-id']);
    expect(ids[0]).toBe('abc-123');
    expect(ids[1]).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids[2]).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids[1]).not.toBe(ids[2]);
    expect(records.map((record) => record.via)).toEqual(['fast', 'fast', 'fast']);
  });

  it('answers pipelined requests in order, one after the other', async () => {
    const backend = await startBackend((req, res) => {
      // The first answers last: a proxy that sent requests concurrently would reorder them.
      setTimeout(() => res.end(`served ${req.url}`), req.url === '/slow' ? 100 : 0);
    });
    const { proxy, port, records } = await startProxy();
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    client.write(
      get('/slow') + `POST /post HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 5\r\n\r\nhello` + get('/last'),
    );
    expect((await client.response()).body).toBe('served /slow');
    expect((await client.response()).body).toBe('served /post');
    expect((await client.response()).body).toBe('served /last');
    expect(backend.seen.map((request) => [request.url, request.body])).toEqual([
      ['/slow', ''],
      ['/post', 'hello'],
      ['/last', ''],
    ]);
    expect(records.map((record) => record.via)).toEqual(['fast', 'fast', 'fast']);
  });

  it('streams a Content-Length body that arrives in pieces, and finds the next request after it', async () => {
    const backend = await startBackend((_req, res, body) => res.end(`got ${body.length}: ${body}`));
    const { proxy, port } = await startProxy();
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    client.write(`POST /upload HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 10\r\n\r\n01234`);
    await new Promise((resolve) => setTimeout(resolve, 30));
    // The rest of the body, and a request that a confused proxy would read as part of it.
    client.write('56789' + get('/after'));
    expect((await client.response()).body).toBe('got 10: 0123456789');
    expect((await client.response()).body).toBe('got 0: ');
    expect(backend.seen.map((request) => request.url)).toEqual(['/upload', '/after']);
  });

  it('reads and drops the body of a request the proxy answers itself, then serves the next one', async () => {
    const backend = await startBackend();
    const { proxy, port } = await startProxy();
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    client.write(`POST / HTTP/1.1\r\nHost: nobody.test\r\nContent-Length: 20\r\n\r\n0123456789`);
    expect((await client.response()).status).toBe(404);
    // The rest of the 404's body, whose bytes spell a request that must not be served.
    client.write(`GET /x HTTP/1.1\r\n\r\n`.slice(0, 10) + get('/real'));
    const next = await client.response();
    expect(next.status).toBe(200);
    expect(backend.seen.map((request) => request.url)).toEqual(['/real']);
  });

  it('closes the connection after a response when the client asked (Connection: close)', async () => {
    const backend = await startBackend();
    const { proxy, port } = await startProxy();
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    client.write(get('/', 'Connection: close\r\n'));
    const response = await client.response();
    expect(response.headers.get('connection')).toBe('close');
    expect(await client.closedByPeer()).toBe(true);
  });

  it('goes through node:http alone when the fast path is off', async () => {
    const backend = await startBackend();
    const { proxy, port, records } = await startProxy({ fastPath: false });
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    client.write(get('/'));
    expect((await client.response()).status).toBe(200);
    expect(records.map((record) => record.via)).toEqual(['node']);
  });
});

describe('fast path: handing connections to node:http', () => {
  it('hands over a chunked upload after serving plain requests on the same connection', async () => {
    const backend = await startBackend((req, res, body) => res.end(`${req.url} ${body}`));
    const { proxy, port, records } = await startProxy();
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    client.write(get('/first'));
    expect((await client.response()).body).toBe('/first ');
    client.write(
      `POST /chunked HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    );
    expect((await client.response()).body).toBe('/chunked hello');
    client.write(get('/then'));
    expect((await client.response()).body).toBe('/then ');
    // Once handed over, a connection stays with node:http.
    expect(records.map((record) => [record.via, record.status])).toEqual([
      ['fast', 200],
      ['node', 200],
      ['node', 200],
    ]);
  });

  it('serves a head split across writes: handed to node:http when read in pieces', async () => {
    const backend = await startBackend((req, res) => res.end(`served ${req.url}`));
    const { proxy, port, records } = await startProxy();
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    const text = get('/split');
    client.write(text.slice(0, 7));
    await new Promise((resolve) => setTimeout(resolve, 30));
    client.write(text.slice(7));
    expect((await client.response()).body).toBe('served /split');
    // Which path served it depends on how the reads fell: on a busy machine the proxy may
    // read both writes at once and see a whole head. Either way it is served once, right.
    expect(records).toHaveLength(1);
  });

  it('hands pipelined bytes over intact when an unusual request follows plain ones', async () => {
    const backend = await startBackend((req, res, body) => res.end(`${req.url} ${body}`));
    const { proxy, port, records } = await startProxy();
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    client.write(
      get('/a') +
        `POST /b HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n` +
        get('/c'),
    );
    expect((await client.response()).body).toBe('/a ');
    expect((await client.response()).body).toBe('/b abc');
    expect((await client.response()).body).toBe('/c ');
    expect(records.map((record) => record.via)).toEqual(['fast', 'node', 'node']);
  });

  it('lets no request be smuggled: Content-Length with Transfer-Encoding is refused by node:http', async () => {
    const backend = await startBackend();
    const { proxy, port } = await startProxy();
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    client.write(
      `POST / HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`,
    );
    expect((await client.response()).status).toBe(400);
    await client.closedByPeer();
    expect(backend.seen).toHaveLength(0);
  });

  it('answers an oversized head 431 (node:http)', async () => {
    const { port } = await startProxy();
    const client = new RawClient(port);
    client.write(get('/', `X-Big: ${'a'.repeat(20 * 1024)}\r\n`));
    expect((await client.response()).status).toBe(431);
  });
});

describe('fast path: response framing', () => {
  it('relays a chunked response byte for byte and keeps the connection', async () => {
    const backend = await startBackend((_req, res) => {
      res.write('first ');
      setTimeout(() => res.end('second'), 20);
    });
    const { proxy, port } = await startProxy();
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    client.write(get('/'));
    const response = await client.response();
    expect(response.headers.get('transfer-encoding')).toBe('chunked');
    expect(response.body).toBe('first second');
    client.write(get('/again'));
    expect((await client.response()).body).toBe('first second');
    expect(backend.connections()).toBe(1);
  });

  it('relays a body delimited by the end of the connection, then closes the client connection', async () => {
    const backend = await startRawBackend((_index, socket) =>
      socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end'),
    );
    const { proxy, port } = await startProxy();
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    client.write(get('/'));
    const response = await client.response();
    expect(response.headers.get('connection')).toBe('close');
    expect(response.body).toBe('until the end');
    expect(client.closed).toBe(true);
  });

  it('gives HEAD, 204 and 304 answers no body and serves the next request on the connection', async () => {
    const backend = await startBackend((req, res) => {
      if (req.url === '/204') res.writeHead(204).end();
      else if (req.url === '/304') res.writeHead(304, { etag: '"x"' }).end();
      else res.writeHead(200, { 'content-length': 5 }).end(req.method === 'HEAD' ? undefined : 'hello');
    });
    const { proxy, port } = await startProxy();
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    client.write(`HEAD / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    const head = await client.response('HEAD');
    expect([head.status, head.headers.get('content-length')]).toEqual([200, '5']);
    client.write(get('/204'));
    expect((await client.response()).status).toBe(204);
    client.write(get('/304'));
    expect((await client.response()).status).toBe(304);
    client.write(get('/'));
    expect((await client.response()).body).toBe('hello');
  });

  it('passes 1xx heads on before the final response', async () => {
    const backend = await startRawBackend((_index, socket) =>
      socket.write(
        'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
      ),
    );
    const { proxy, port } = await startProxy();
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    client.write(get('/'));
    const hints = await client.response();
    expect([hints.status, hints.headers.get('link')]).toEqual([103, '</a.css>; rel=preload']);
    const final = await client.response();
    expect([final.status, final.body]).toEqual([200, 'ok']);
  });

  it('answers 502 to a response with both Content-Length and Transfer-Encoding', async () => {
    const backend = await startRawBackend((_index, socket) =>
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'),
    );
    const { proxy, port, records } = await startProxy();
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    client.write(get('/'));
    const response = await client.response();
    expect(response.status).toBe(502);
    expect(response.body).toContain('both Content-Length and Transfer-Encoding');
    expect(records.map((record) => record.status)).toEqual([502]);
  });

  it('cuts the client off when a chunked body turns out malformed after the head went out', async () => {
    const backend = await startRawBackend((_index, socket) =>
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n'),
    );
    const { proxy, port } = await startProxy();
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    client.write(get('/'));
    await expect(client.response()).rejects.toThrow(/connection closed/);
  });

  it('sends a request again on a new connection when a kept one turns out closed, for GET only', async () => {
    // The target answers the first request on each connection and drops the connection on
    // the second without a word (as a server whose keep-alive timer fired just then).
    const perSocket = new WeakMap<net.Socket, number>();
    const backend = await startRawBackend((_index, socket) => {
      const count = (perSocket.get(socket) ?? 0) + 1;
      perSocket.set(socket, count);
      if (count === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      else socket.destroy();
    });
    const { proxy, port } = await startProxy();
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const client = new RawClient(port);
    client.write(get('/one'));
    expect((await client.response()).status).toBe(200);
    client.write(get('/two'));
    expect((await client.response()).status).toBe(200);
    expect(backend.requests().map((request) => request.split(' ')[1])).toEqual(['/one', '/two', '/two']);

    // A request with a body is never sent twice.
    client.write(`POST /three HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 1\r\n\r\nx`);
    expect((await client.response()).status).toBe(502);
  });
});

describe('fast path: shutting down', () => {
  it('close() closes idle fast-path connections and finishes a request in flight with Connection: close', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const backend = await startBackend((_req, res) => void released.then(() => res.end('late')));
    const proxy = new ProxyServer();
    const { port } = await proxy.listen('127.0.0.1', 0);
    await proxy.deploy({ service: 'web', hosts: [HOST], targets: [backend.address] });
    const idle = new RawClient(port);
    idle.write(`GET /luma-proxy-health HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
    expect((await idle.response()).status).toBe(200);
    const busy = new RawClient(port);
    busy.write(get('/'));
    while (backend.seen.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));

    const closed = proxy.close();
    expect(await idle.closedByPeer()).toBe(true);
    release();
    const response = await busy.response();
    expect([response.body, response.headers.get('connection')]).toEqual(['late', 'close']);
    await closed;
  });
});
