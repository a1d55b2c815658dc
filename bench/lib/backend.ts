import http from 'node:http';
import type { AddressInfo } from 'node:net';

// The benchmark's backend, run as its own process: `ok\n` with a content-length to
// every request, on keep-alive connections. Prints "listening PORT" once ready.

const BODY = Buffer.from('ok\n');
const server = http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
  res.end(BODY);
});
// The proxies keep their upstream connections in pools: do not close them under them.
server.keepAliveTimeout = 120_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => process.exit(0));
