import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ReadinessTimeoutError, waitUntilReady } from '../../../src/util/readiness-probe.js';

// The h2c probe (spec.http2) against real servers: an HTTP/2 cleartext app is ready when it
// answers the GET below 500; an app that speaks only HTTP/1.1 never passes it.

const servers: Array<http.Server | http2.Http2Server> = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

async function listen(server: http.Server | http2.Http2Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function h2cApp(status: number, seen: string[] = []): http2.Http2Server {
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    seen.push(String(headers[':path']));
    stream.respond({ ':status': status }, { endStream: true });
  });
  // Sessions the probe leaves are closed by it; none may keep the server from closing.
  server.on('session', (session) => session.setTimeout(500, () => session.destroy()));
  return server;
}

describe('the h2c readiness probe', () => {
  it('passes once an HTTP/2 cleartext app answers its path below 500', async () => {
    const seen: string[] = [];
    const port = await listen(h2cApp(200, seen));
    await waitUntilReady('127.0.0.1', port, { type: 'h2c', path: '/ready' }, 2_000);
    expect(seen).toEqual(['/ready']);
  });

  it('fails on a 5xx answer and on an app that speaks only HTTP/1.1', async () => {
    const failing = await listen(h2cApp(503));
    await expect(waitUntilReady('127.0.0.1', failing, { type: 'h2c', path: '/' }, 300)).rejects.toThrow(/HTTP 503/);
    const http1 = await listen(http.createServer((_req, res) => res.end('ok')));
    await expect(waitUntilReady('127.0.0.1', http1, { type: 'h2c', path: '/' }, 300)).rejects.toBeInstanceOf(
      ReadinessTimeoutError,
    );
  });
});
