import http, { type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { upstreamHeaders } from './forwarder.js';
import { relayRefusal } from './refused-upgrade.js';
import type { Target } from './route-table.js';

// Forwards an HTTP Upgrade (WebSocket) to a target, then splices the two sockets
// together. The connection counts as in flight until either side closes it. The target
// must answer the upgrade within the handshake timeout: an app that never does would
// otherwise keep the request, and its project, in flight forever.

export type UpgradeOutcome =
  | { kind: 'closed' }
  | { kind: 'upstream-error'; error: Error }
  | { kind: 'rejected'; status: number }
  | { kind: 'handshake-timeout' };

function statusLine(status: number, message: string | undefined): string {
  return `HTTP/1.1 ${status} ${message ?? http.STATUS_CODES[status] ?? ''}\r\n`;
}

function rawHeaders(rawHeaders: string[]): string {
  let text = '';
  for (let index = 0; index + 1 < rawHeaders.length; index += 2)
    text += `${rawHeaders[index]}: ${rawHeaders[index + 1]}\r\n`;
  return text;
}

export function forwardUpgrade(
  req: IncomingMessage,
  clientSocket: Duplex,
  head: Buffer,
  target: Target,
  trustForwardedHeaders: boolean,
  handshakeTimeoutMs: number,
): Promise<UpgradeOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: UpgradeOutcome): void => {
      clearTimeout(handshakeTimer);
      if (!settled) {
        settled = true;
        resolve(outcome);
      }
    };
    const upstream = http.request({
      host: target.host,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: upstreamHeaders(req, trustForwardedHeaders, true),
      agent: false,
    });
    // Settled first, so the destroy's own error does not win.
    const handshakeTimer = setTimeout(() => {
      finish({ kind: 'handshake-timeout' });
      upstream.destroy();
    }, handshakeTimeoutMs);

    upstream.on('upgrade', (upstreamRes, upstreamSocket, upstreamHead) => {
      clearTimeout(handshakeTimer);
      clientSocket.write(
        statusLine(upstreamRes.statusCode ?? 101, upstreamRes.statusMessage) +
          rawHeaders(upstreamRes.rawHeaders) +
          '\r\n',
      );
      if (upstreamHead.length > 0) clientSocket.write(upstreamHead);
      if (head.length > 0) upstreamSocket.write(head);
      upstreamSocket.pipe(clientSocket);
      clientSocket.pipe(upstreamSocket);
      // Either side ending ends the tunnel (as nginx does): an app that ignores a client's
      // FIN must not keep the connection, and its project, alive forever.
      const close = (): void => {
        upstreamSocket.destroy();
        clientSocket.destroy();
        finish({ kind: 'closed' });
      };
      for (const event of ['end', 'close', 'error']) {
        upstreamSocket.on(event, close);
        clientSocket.on(event, close);
      }
    });
    // The target answered without switching protocols: relay its answer, framed anew, and close.
    // It counts as in flight, and its socket as the proxy's to close, until the relay is over.
    let refusedWith: number | undefined;
    upstream.on('response', (upstreamRes) => {
      clearTimeout(handshakeTimer);
      refusedWith = upstreamRes.statusCode ?? 502;
      relayRefusal(req.method ?? 'GET', upstreamRes, clientSocket);
    });
    upstream.on('error', (error) => finish({ kind: 'upstream-error', error }));
    clientSocket.on('close', () => {
      upstream.destroy();
      finish(refusedWith === undefined ? { kind: 'closed' } : { kind: 'rejected', status: refusedWith });
    });
    upstream.end();
  });
}
