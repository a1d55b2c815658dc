import type { IncomingMessage, ServerResponse } from 'node:http';
import http2, { type Http2SecureServer, type Http2ServerRequest, type Http2ServerResponse } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContext } from 'node:tls';
import type { Logger } from '../../util/logger.js';
import { asHttp1Headers, Http1StyleResponse } from './http2-compat.js';

// The public HTTPS listener. The certificate is picked per handshake from the server name
// (SNI); a name without a certificate is refused in the handshake, and nothing is ever
// ordered from here. HTTP/2 is offered through ALPN, HTTP/1.1 stays for clients that
// ask for it (and for WebSocket upgrades). Requests go to the same handler as plain HTTP:
// the forwarder sees the TLS socket and sets X-Forwarded-Proto to https.

export interface HttpsListenerOptions {
  contextFor: (serverName: string) => SecureContext | undefined;
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  logger: Logger;
}

export class HttpsListener {
  private server: Http2SecureServer | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly options: HttpsListenerOptions) {}

  async listen(host: string, port: number): Promise<AddressInfo> {
    const { contextFor, logger } = this.options;
    const server = http2.createSecureServer({
      allowHTTP1: true,
      minVersion: 'TLSv1.2',
      Http2ServerResponse: Http1StyleResponse,
      SNICallback: (serverName, callback) => {
        const context = contextFor(serverName);
        if (context) callback(null, context);
        else callback(new Error(`no certificate for "${serverName}"`));
      },
    });
    server.on('request', (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse) => this.onRequest(req, res));
    // HTTP/1.1 connections fall back to node:http's parser, which reports upgrades here.
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.options.handleUpgrade(req, socket, head));
    server.on('tlsClientError', (error: Error, socket: Socket) => {
      logger.debug({ err: error.message, remote: socket.remoteAddress }, 'TLS handshake refused');
    });
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  /**
   * Stops accepting connections at once, waits for `drained` (the proxy letting in-flight
   * requests finish), then ends the connections still open.
   */
  async close(drained: Promise<void>): Promise<void> {
    const server = this.server;
    if (!server) return drained;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    await drained;
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private onRequest(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
    if (req.httpVersionMajor === 2) {
      asHttp1Headers(req as Http2ServerRequest);
      // The compat objects implement the members the proxy uses (headers, url, method,
      // socket, streaming in both directions, writeHead/flushHeaders/'drain'/destroy), with
      // the gaps closed in http2-compat.ts; node:http's types cannot say so.
      this.options.handle(req as unknown as IncomingMessage, res as unknown as ServerResponse);
      return;
    }
    this.options.handle(req as IncomingMessage, res as ServerResponse);
  }
}
