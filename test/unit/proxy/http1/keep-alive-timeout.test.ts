import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Deadlines } from '../../../../src/proxy/http1/deadlines.js';
import { FastConnection, type FastPathHost } from '../../../../src/proxy/http1/fast-connection.js';
import { watchedConnection, type WatchedConnection } from '../../../support/raw-http.js';
import { UpstreamPool } from '../../../../src/proxy/http1/upstream-pool.js';
import { respond } from '../../../../src/proxy/responses.js';

// A fast-path client connection's keep-alive timeout: an idle connection is closed once
// it has been idle that long, counted from its start or from the end of its last request;
// a request under way is never cut by it. Only lower bounds on times are asserted.

const KEEP_ALIVE_MS = 150;
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/** A listener whose connections are FastConnections; `serveMs` is how long each request takes to answer. */
async function listen(
  serveMs: number,
  firstRequestTimeoutMs?: number,
  keepAliveTimeoutMs = KEEP_ALIVE_MS,
): Promise<number> {
  const pool = new UpstreamPool();
  const deadlines = new Deadlines();
  const host: FastPathHost = {
    isClosing: () => false,
    serve: async (exchange) => {
      await new Promise((resolve) => setTimeout(resolve, serveMs));
      exchange.answer(respond.health());
    },
    handOff: (socket) => socket.destroy(),
    connectionClosed: () => undefined,
  };
  const server = net.createServer(
    (socket) =>
      new FastConnection(socket, host, {
        maxHeadBytes: 16 * 1024,
        keepAliveTimeoutMs,
        ...(firstRequestTimeoutMs ? { firstRequestTimeoutMs } : {}),
        pool,
        deadlines,
      }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    server.close();
    pool.close();
  });
  return (server.address() as AddressInfo).port;
}

function connect(port: number, request?: string): WatchedConnection {
  return watchedConnection(port, request, cleanups);
}

describe('FastConnection keep-alive timeout', () => {
  it('closes a connection that sends nothing once the keep-alive timeout has passed', async () => {
    const { closed } = connect(await listen(0));
    const { afterMs, received } = await closed;
    expect(afterMs).toBeGreaterThanOrEqual(KEEP_ALIVE_MS - 1);
    expect(received).toBe('');
  });

  it('closes a new connection that sends nothing once the first-request (head) timeout has passed, if shorter', async () => {
    const firstMs = 50;
    const keepAliveMs = 5_000;
    const { closed } = connect(await listen(0, firstMs, keepAliveMs));
    const { afterMs, received } = await closed;
    expect(afterMs).toBeGreaterThanOrEqual(firstMs - 1);
    expect(afterMs, 'long before the keep-alive timeout').toBeLessThan(keepAliveMs);
    expect(received).toBe('');
  });

  it('does not cut a request under way, and counts the idle time from the end of the answer', async () => {
    const serveMs = 2 * KEEP_ALIVE_MS;
    const { closed } = connect(await listen(serveMs), 'GET /luma-proxy-health HTTP/1.1\r\nHost: a.test\r\n\r\n');
    const { afterMs, received } = await closed;
    expect(received).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(afterMs).toBeGreaterThanOrEqual(serveMs + KEEP_ALIVE_MS - 1);
  });
});
