import type { Duplex } from 'node:stream';

// What node:http answers on a connection whose bytes it cannot parse, on both public
// listeners (its own default differs: it destroys the socket at once, cutting off a
// response still under way for a request that came before the bad bytes), and the
// connection's close after it.

/** A 'clientError' listener: 431 for an oversized head, 408 for a head too slow, 400 for the rest. */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // Node answers oversized heads with 431 itself when we let it; other parse errors get 400.
  if (socket.writable) {
    const status =
      error.code === 'HPE_HEADER_OVERFLOW'
        ? '431 Request Header Fields Too Large'
        : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? '408 Request Timeout'
          : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    lingerWhileClosing(socket);
  } else socket.destroy();
}

/** How long a connection closed after an error goes on being read, at most. */
const LINGER_MS = 2_000;

/**
 * Reads and drops what the client still sends until it closes its side too (or LINGER_MS
 * passes). node:http stops reading at a parse error: bytes the client had already sent
 * would sit unread, and closing a socket with unread bytes sends a reset, which makes the
 * client's kernel drop the answer just written before the client reads it (nginx's
 * lingering_close, for the same reason).
 */
function lingerWhileClosing(socket: Duplex): void {
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.on('data', () => undefined);
  socket.resume();
}
