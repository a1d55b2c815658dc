import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeLiveness } from '../../../src/util/liveness-probe.js';

// The real liveness check against small loopback servers (the monitor's own tests inject
// a fake one): Kubernetes' 200–399 rule, the timeout of the whole check, TCP connects.

const servers: Array<http.Server | net.Server> = [];
let statusPort: number;
let silentPort: number;
let closingPort: number;
let closedPort: number;

async function listen(server: http.Server | net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

beforeAll(async () => {
  // Answers the status named by the path: /204, /302, /404, /500.
  statusPort = await listen(
    http.createServer((req, res) => {
      res.statusCode = Number(req.url?.slice(1));
      res.end();
    }),
  );
  silentPort = await listen(http.createServer(() => undefined));
  closingPort = await listen(net.createServer((socket) => socket.destroy()));
  const spare = net.createServer();
  closedPort = await listen(spare);
  await new Promise<void>((resolve) => spare.close(() => resolve()));
  servers.pop();
});

afterAll(async () => {
  for (const server of servers) {
    if (server instanceof http.Server) server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

describe('probeLiveness', () => {
  it('passes an HTTP answer from 200 to 399 and fails the others with the status', async () => {
    for (const path of ['/200', '/204', '/302', '/399'])
      await expect(probeLiveness('127.0.0.1', statusPort, { type: 'http', path }, 1_000)).resolves.toBeUndefined();
    await expect(probeLiveness('127.0.0.1', statusPort, { type: 'http', path: '/404' }, 1_000)).rejects.toThrow(
      'HTTP 404',
    );
    await expect(probeLiveness('127.0.0.1', statusPort, { type: 'http', path: '/500' }, 1_000)).rejects.toThrow(
      'HTTP 500',
    );
  });

  it('fails an app that does not answer within the timeout', async () => {
    const started = Date.now();
    await expect(probeLiveness('127.0.0.1', silentPort, { type: 'http', path: '/' }, 200)).rejects.toThrow(
      'no answer within 200 ms',
    );
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('passes a TCP connection that stays open and fails one refused or closed at once', async () => {
    await expect(probeLiveness('127.0.0.1', silentPort, { type: 'tcp' }, 1_000)).resolves.toBeUndefined();
    await expect(probeLiveness('127.0.0.1', closingPort, { type: 'tcp' }, 1_000)).rejects.toThrow(
      /closed by the app|ECONNRESET/,
    );
    await expect(probeLiveness('127.0.0.1', closedPort, { type: 'tcp' }, 1_000)).rejects.toThrow(/ECONNREFUSED/);
  });
});
