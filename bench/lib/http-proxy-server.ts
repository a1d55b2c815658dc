import http from 'node:http';
import type { AddressInfo } from 'node:net';
import httpProxy from 'http-proxy';

// The node `http-proxy` baseline, run as its own process: every request to the backend
// given as argv[2], through a keep-alive agent configured like Luma's, adding
// X-Forwarded-* as Luma does (xfwd). Prints "listening PORT" once ready.

const backendPort = Number(process.argv[2]);
if (!Number.isInteger(backendPort) || backendPort <= 0) throw new Error('usage: http-proxy-server.ts BACKEND_PORT');

const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity, maxFreeSockets: 256, scheduling: 'lifo' });
const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${backendPort}`, agent, xfwd: true });
proxy.on('error', (error, _req, res) => {
  if (res instanceof http.ServerResponse && !res.headersSent) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`bad gateway: ${error.message}\n`);
  } else res.destroy();
});

const server = http.createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => process.exit(0));
