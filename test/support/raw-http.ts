import net from 'node:net';
import tls from 'node:tls';

// HTTP/1.1 written byte for byte on a socket, for requests no well-behaved client would
// send (conflicting lengths, bare CR, NUL, slow heads): what came back and whether the
// server closed the connection.

export interface RawAnswer {
  /** The status code of the first response, if one came. */
  status: number | undefined;
  /** Every status line that came back, in order (a smuggled request would add one). */
  statuses: number[];
  raw: string;
  /** The server closed (or reset) the connection. */
  closed: boolean;
  /** Nothing more came for `idleMs` and the connection was still open. */
  timedOut: boolean;
  elapsedMs: number;
}

export interface RawOptions {
  /** Give up waiting after this long of silence (default 3 s). */
  idleMs?: number;
  /** Write the request in pieces of this many bytes, `dribbleMs` apart (slowloris). */
  dribbleBytes?: number;
  dribbleMs?: number;
  /** With dribbling: this many bytes first, at once (a whole head), then the rest dribbled (a slow body). */
  dribbleAfter?: number;
  /** Over TLS (the HTTPS listener): the server name and the CA to trust. */
  tls?: { servername: string; ca: string };
}

export function rawExchange(port: number, request: string | Buffer, options: RawOptions = {}): Promise<RawAnswer> {
  const began = Date.now();
  const bytes = typeof request === 'string' ? Buffer.from(request, 'latin1') : request;
  return new Promise((resolve) => {
    const socket = options.tls
      ? tls.connect({ host: '127.0.0.1', port, servername: options.tls.servername, ca: options.tls.ca, ALPNProtocols: ['http/1.1'] })
      : net.connect(port, '127.0.0.1');
    let raw = '';
    let done = false;
    let idle: NodeJS.Timeout | undefined;
    let dribble: NodeJS.Timeout | undefined;
    const finish = (closed: boolean, timedOut: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(idle);
      clearInterval(dribble);
      socket.destroy();
      const statuses = [...raw.matchAll(/^HTTP\/1\.[01] (\d{3})/gm)].map((match) => Number(match[1]));
      resolve({ status: statuses[0], statuses, raw, closed, timedOut, elapsedMs: Date.now() - began });
    };
    const armIdle = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => finish(false, true), options.idleMs ?? 3_000);
    };
    socket.on('data', (chunk: Buffer) => {
      raw += chunk.toString('latin1');
      armIdle();
    });
    socket.on('end', () => finish(true, false));
    socket.on('close', () => finish(true, false));
    socket.on('error', () => finish(true, false));
    socket.on(options.tls ? 'secureConnect' : 'connect', () => {
      armIdle();
      if (!options.dribbleBytes) {
        socket.write(bytes);
        return;
      }
      let offset = options.dribbleAfter ?? 0;
      if (offset > 0) socket.write(bytes.subarray(0, offset));
      dribble = setInterval(() => {
        if (offset >= bytes.length || socket.destroyed) return void clearInterval(dribble);
        socket.write(bytes.subarray(offset, offset + (options.dribbleBytes ?? 1)));
        offset += options.dribbleBytes ?? 1;
        armIdle();
      }, options.dribbleMs ?? 100);
    });
  });
}
