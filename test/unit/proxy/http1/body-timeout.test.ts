import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Deadlines } from '../../../../src/proxy/http1/deadlines.js';
import { FastConnection, type FastPathHost } from '../../../../src/proxy/http1/fast-connection.js';
import { watchedConnection, type WatchedConnection } from '../../../support/raw-http.js';
import { UpstreamPool } from '../../../../src/proxy/http1/upstream-pool.js';
import { respond } from '../../../../src/proxy/responses.js';

// A fast-path connection's body timeout: a body that stops arriving is cut once no byte
// has come for that long, also after the proxy answered without it; a body that keeps
// moving is not; nor is one the proxy holds (not read while a request waits for a target).

const BODY_MS = 200;
const KEEP_ALIVE_MS = 5_000;
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/** A listener whose requests are answered (without reading their body) after `serveMs`. */
async function listen(serveMs: number): Promise<number> {
  const pool = new UpstreamPool();
  const host: FastPathHost = {
    isClosing: () => false,
    serve: async (exchange) => {
      await new Promise((resolve) => setTimeout(resolve, serveMs));
      exchange.answer(respond.unknownHost('nobody'));
    },
    handOff: (socket) => socket.destroy(),
    connectionClosed: () => undefined,
  };
  const deadlines = new Deadlines();
  const server = net.createServer(
    (socket) =>
      new FastConnection(socket, host, {
        maxHeadBytes: 16 * 1024,
        keepAliveTimeoutMs: KEEP_ALIVE_MS,
        bodyTimeoutMs: BODY_MS,
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

const POST = 'POST / HTTP/1.1\r\nHost: nobody.localhost\r\nContent-Length: 100\r\n\r\n';

describe('FastConnection body timeout', () => {
  it('cuts a body that stalls after the proxy answered without it', async () => {
    const { closed } = connect(await listen(0), `${POST}abc`);
    const { afterMs, received } = await closed;
    expect(received).toMatch(/^HTTP\/1\.1 404 /);
    expect(afterMs).toBeGreaterThanOrEqual(BODY_MS - 1);
    expect(afterMs).toBeLessThan(KEEP_ALIVE_MS);
  });

  it('does not cut a body that keeps moving; the clock runs from the last byte', async () => {
    const { socket, closed } = connect(await listen(0), POST);
    let sent = 0;
    const startedAt = performance.now();
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        socket.write('x');
        if (++sent === 8) {
          clearInterval(timer);
          resolve();
        }
      }, BODY_MS / 2);
    });
    expect(performance.now() - startedAt).toBeGreaterThan(3 * BODY_MS);
    const { afterMs } = await closed;
    expect(afterMs).toBeGreaterThanOrEqual(8 * (BODY_MS / 2) + BODY_MS - 1);
  });

  it('does not count the time a request is held with its body unread', async () => {
    const holdMs = 3 * BODY_MS;
    const { closed } = connect(await listen(holdMs), `${POST}abc`);
    const { afterMs, received } = await closed;
    expect(received, 'answered after the hold, not cut during it').toMatch(/^HTTP\/1\.1 404 /);
    expect(afterMs).toBeGreaterThanOrEqual(holdMs + BODY_MS - 1);
  });
});
