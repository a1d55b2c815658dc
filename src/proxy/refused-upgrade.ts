import http, { type IncomingMessage } from 'node:http';
import { Transform, type Duplex, type TransformCallback } from 'node:stream';
import { responseHasBody } from './framing-policy.js';
import { rawWithoutHopByHop } from './hop-by-hop.js';

// An app that answers an upgrade request without switching protocols (400, 403, a plain
// 200...): its answer is relayed to the client, and the connection closed after it. The
// body reaches us already unframed by node:http's parser, so it is framed again here,
// following framing-policy.ts: by the app's Content-Length when it sent one, else
// chunked; never with the app's Transfer-Encoding or Connection, which described the
// connection to the app, not this one.

export interface RefusalHead {
  /** The head as the client gets it, blank line included. */
  head: string;
  /** The body is chunked again on its way (the app sent no Content-Length). */
  chunked: boolean;
}

/** The head a refused upgrade is relayed with: hop-by-hop headers stripped, one framing, one `connection: close`. */
export function refusalHead(
  method: string,
  status: number,
  statusMessage: string | undefined,
  rawHeaders: readonly string[],
): RefusalHead {
  const headers = rawWithoutHopByHop(rawHeaders);
  let lengthKnown = false;
  let text = `HTTP/1.1 ${status} ${statusMessage ?? http.STATUS_CODES[status] ?? ''}\r\n`;
  for (let index = 0; index + 1 < headers.length; index += 2) {
    const name = headers[index] as string;
    if (name.toLowerCase() === 'content-length') lengthKnown = true;
    text += `${name}: ${headers[index + 1] as string}\r\n`;
  }
  const chunked = responseHasBody(method, status) && !lengthKnown;
  if (chunked) text += 'transfer-encoding: chunked\r\n';
  return { head: `${text}connection: close\r\n\r\n`, chunked };
}

const CRLF = Buffer.from('\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

/** Writes what passes through it as chunks, and the last chunk at its end. */
export function chunkedEncoder(): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
      // An empty chunk would read as the last one.
      if (chunk.length === 0) return callback();
      callback(null, Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`, 'latin1'), chunk, CRLF]));
    },
    flush(callback: TransformCallback): void {
      callback(null, LAST_CHUNK);
    },
  });
}

/** Relays the app's answer to a request it did not upgrade, with backpressure, and ends the client connection after it. */
export function relayRefusal(method: string, response: IncomingMessage, clientSocket: Duplex): void {
  const { head, chunked } = refusalHead(
    method,
    response.statusCode ?? 502,
    response.statusMessage,
    response.rawHeaders,
  );
  clientSocket.write(head, 'latin1');
  // A body cut short by the app leaves the client's framing unfinished: it sees the cut.
  response.on('error', () => clientSocket.destroy());
  response.on('aborted', () => clientSocket.destroy());
  // Closed for good once the answer is out: a client that never closes its side (or keeps
  // writing) must not hold the socket after the proxy has stopped tracking it.
  clientSocket.once('finish', () => clientSocket.destroy());
  if (chunked) response.pipe(chunkedEncoder()).pipe(clientSocket);
  else response.pipe(clientSocket);
}
