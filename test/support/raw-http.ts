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
      ? tls.connect({
          host: '127.0.0.1',
          port,
          servername: options.tls.servername,
          ca: options.tls.ca,
          ALPNProtocols: ['http/1.1'],
        })
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

/** One response read off raw bytes by its framing, as a strict client would. */
export interface FramedResponse {
  status: number;
  /** Header lines as sent, in order: [name, value] with the name lower-cased. */
  headers: [string, string][];
  body: string;
}

/** What readResponses made of a byte stream: the responses, and bytes that are not one. */
export interface ReadResponses {
  responses: FramedResponse[];
  /** Bytes after the last whole response (a body that overran its framing shows up here). */
  rest: string;
}

/** Every value of a header (lower-case name). */
export function headerValues(response: FramedResponse, name: string): string[] {
  return response.headers.filter(([header]) => header === name).map(([, value]) => value);
}

/** Whether a response to `method` with `status` has a body at all (RFC 9112 §6.3 items 1–2). */
function hasBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status >= 200 && status !== 204 && status !== 304;
}

/** A chunked body at `at`: its data and where it ends, or undefined when incomplete. */
function readChunked(raw: string, at: number): { body: string; end: number } | undefined {
  let body = '';
  for (let chunks = 0; chunks < 100_000; chunks++) {
    const lineEnd = raw.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(raw.slice(at, lineEnd).split(';')[0] ?? '', 16);
    if (!Number.isFinite(size)) return undefined;
    at = lineEnd + 2;
    if (size === 0) {
      const trailerEnd = raw.indexOf('\r\n\r\n', at - 2);
      return trailerEnd < 0 ? undefined : { body, end: trailerEnd + 4 };
    }
    if (raw.length < at + size + 2) return undefined;
    body += raw.slice(at, at + size);
    at += size + 2;
  }
  return undefined;
}

/**
 * Reads the responses to `methods` (one per request sent, in order) from `raw`, each
 * framed the way RFC 9112 §6.3 says a client frames it: no body for HEAD, 1xx, 204 and
 * 304; else chunked, Content-Length, or everything to the end (the connection closed).
 * 1xx heads are read and skipped. What cannot be read as a response is left in `rest`.
 */
export function readResponses(raw: string, methods: string[]): ReadResponses {
  const responses: FramedResponse[] = [];
  let at = 0;
  for (const method of methods) {
    for (let informational = 0; informational < 10; informational++) {
      const headStart = at;
      const headEnd = raw.indexOf('\r\n\r\n', at);
      const match = /^HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/.exec(raw.slice(at, headEnd + 2));
      if (headEnd < 0 || !match) return { responses, rest: raw.slice(at) };
      const status = Number(match[1]);
      const headers = raw
        .slice(at + match[0].length, headEnd)
        .split('\r\n')
        .filter((line) => line !== '')
        .map((line): [string, string] => [
          line.slice(0, line.indexOf(':')).toLowerCase(),
          line.slice(line.indexOf(':') + 1).trim(),
        ]);
      at = headEnd + 4;
      if (status < 200) continue;
      const response: FramedResponse = { status, headers, body: '' };
      if (hasBody(method, status)) {
        const length = headerValues(response, 'content-length')[0];
        if (headerValues(response, 'transfer-encoding').some((coding) => /chunked\s*$/i.test(coding))) {
          const chunked = readChunked(raw, at);
          if (!chunked) return { responses, rest: raw.slice(headStart) };
          response.body = chunked.body;
          at = chunked.end;
        } else if (length !== undefined) {
          response.body = raw.slice(at, at + Number(length));
          at += Number(length);
        } else {
          response.body = raw.slice(at);
          at = raw.length;
        }
      }
      responses.push(response);
      break;
    }
  }
  return { responses, rest: raw.slice(at) };
}

/**
 * Writes `request` on `socket` (connected, or connecting) and reads nothing: a client that
 * stops reading its response. `readOn()` then reads what is left and resolves with how many
 * bytes came before the connection ended (a paused socket never sees the server's close).
 */
export function stopReading(socket: net.Socket, request: string): { readOn(): Promise<number> } {
  let received = 0;
  socket.on('error', () => undefined);
  socket.pause();
  socket.write(request);
  const ended = new Promise<number>((resolve) => socket.once('close', () => resolve(received)));
  return {
    readOn: () => {
      socket.on('data', (chunk: Buffer) => (received += chunk.length));
      socket.resume();
      return ended;
    },
  };
}

/** A connection whose close is watched: when (ms after connecting) it closed, and what it received. */
export interface WatchedConnection {
  socket: net.Socket;
  closed: Promise<{ afterMs: number; received: string }>;
}

/** Connects to a local port, writes `request` if given, and watches for the close; `cleanups` gets the socket's destroy. */
export function watchedConnection(
  port: number,
  request: string | undefined,
  cleanups: Array<() => void>,
): WatchedConnection {
  const connectedAt = performance.now();
  const socket = net.connect(port, '127.0.0.1');
  cleanups.push(() => socket.destroy());
  let received = '';
  socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
  socket.on('error', () => undefined);
  if (request) socket.write(request);
  return {
    socket,
    closed: new Promise((resolve) =>
      socket.on('close', () => resolve({ afterMs: performance.now() - connectedAt, received })),
    ),
  };
}
