import http from 'node:http';
import type { AddressInfo } from 'node:net';

// A tiny app on loopback that answers every request 200: what the reconcilers' readiness
// probes reach when fake containers are "published" on its port.

export interface ReadyApp {
  port: number;
  close(): Promise<void>;
}

export async function startReadyApp(): Promise<ReadyApp> {
  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
