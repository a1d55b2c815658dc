import tls from 'node:tls';

// Holds N idle HTTP/1.1 keep-alive connections over TLS, run as its own process by
// bench/https.ts: each makes its handshake (resuming the session of an earlier one, to
// open ten thousand quickly: what the server keeps per connection does not depend on it),
// sends one GET, reads the answer, and then says nothing. Prints "held N" once all are
// idle and stays until it is stopped.
//
//   node --import tsx idle-tls-clients.ts PORT HOST COUNT

const [port, host, count] = [Number(process.argv[2]), process.argv[3] ?? 'localhost', Number(process.argv[4])];
const CONCURRENCY = 64;
const sockets: tls.TLSSocket[] = [];
let session: Buffer | undefined;

function open(): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: host,
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
      ...(session ? { session } : {}),
    });
    socket.on('session', (ticket: Buffer) => (session = ticket));
    socket.once('error', reject);
    socket.once('secureConnect', () => socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`));
    let received = '';
    const onData = (chunk: Buffer): void => {
      received += chunk.toString('latin1');
      if (!received.endsWith('ok\n')) return;
      socket.off('data', onData);
      sockets.push(socket);
      resolve();
    };
    socket.on('data', onData);
  });
}

async function main(): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      await open();
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  process.stdout.write(`held ${sockets.length}\n`);
  setInterval(() => undefined, 60_000);
}

process.once('SIGTERM', () => process.exit(0));
main().catch((error: unknown) => {
  process.stdout.write(`failed ${(error as Error).message}\n`);
  process.exit(1);
});
