import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import http2, { type Http2SecureServer, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { SecureContext, TLSSocket } from 'node:tls';
import type { Logger } from '../../util/logger.js';
import { answerClientError } from '../client-error.js';
import type { ConnectionCap } from '../connection-cap.js';
import { connectionsCheckingIntervalFor, type ClientLimits } from '../proxy-server.js';
import { setSocketOptions } from '../socket-options.js';
import { CIPHER_OPTIONS } from './cipher-preference.js';
import { closeWhenIdle } from './http2-idle.js';

// The public HTTPS listener. The certificate is picked per handshake from the server name
// (SNI); a name without a certificate is refused in the handshake, and nothing is ever
// ordered from here. HTTP/2 is offered through ALPN, HTTP/1.1 stays for clients that
// ask for it (and for WebSocket upgrades). Requests go to the same handlers as plain HTTP:
// HTTP/1.1 to the fast path first (node:http gets what it hands over), HTTP/2 streams
// straight from node:http2's 'stream' event (http2-exchange.ts, without the compatibility
// API); both set X-Forwarded-Proto https. The deadlines are
// those of the plain listener (a TLS handshake counts as part of the request head), and
// its connections count against the same cap.

export interface HttpsListenerOptions {
  contextFor: (serverName: string) => SecureContext | undefined;
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  /** One HTTP/2 stream, with its headers (pseudo-headers included). */
  handleStream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => void;
  handleUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  logger: Logger;
  limits: ClientLimits;
  /** Shared with the plain listener: one count of open client connections. */
  connectionCap: ConnectionCap;
  /**
   * The proxy's HTTP/1.1 fast path for connections that chose HTTP/1.1 (or no ALPN):
   * given node:http's listener to hand a connection to, a listener that serves it; none
   * when the fast path is off (ProxyServer.fastPathListener).
   */
  fastPath?: (fallback: (socket: TLSSocket) => void) => ((socket: TLSSocket) => void) | undefined;
}

/** What node:http reads from the server of an HTTP/1.1 connection, which the HTTP/2 server carries for allowHTTP1. */
type Http1Timeouts = Pick<HttpServer, 'headersTimeout' | 'requestTimeout' | 'keepAliveTimeout'> & {
  connectionsCheckingInterval: number;
};

/** Node's HTTP/2 server keeps its own HTTP/1.1 defaults (60 s heads whatever was asked, 300 s per request, no keep-alive timeout). */
function applyHttp1Timeouts(server: Http2SecureServer, limits: ClientLimits): void {
  const http1 = server as Http2SecureServer & Http1Timeouts;
  http1.headersTimeout = limits.headersTimeoutMs;
  // Long uploads and downloads are bounded by progress and response timeouts, not a total.
  http1.requestTimeout = 0;
  http1.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // Read when the server starts listening.
  http1.connectionsCheckingInterval = connectionsCheckingIntervalFor(limits.headersTimeoutMs);
}

export class HttpsListener {
  private server: Http2SecureServer | undefined;
  private readonly sockets = new Set<Socket>();
  /** Connections past their handshake. */
  private readonly secured = new WeakSet<Duplex>();

  constructor(private readonly options: HttpsListenerOptions) {}

  async listen(host: string, port: number): Promise<AddressInfo> {
    const { contextFor, logger, limits } = this.options;
    const server = http2.createSecureServer({
      allowHTTP1: true,
      minVersion: 'TLSv1.2',
      // Chosen before the certificate (the SNI callback), so set on the server's own context.
      ...CIPHER_OPTIONS,
      handshakeTimeout: limits.headersTimeoutMs,
      SNICallback: (serverName, callback) => {
        const context = contextFor(serverName);
        if (context) callback(null, context);
        else callback(new Error(`no certificate for "${serverName}"`));
      },
    });
    applyHttp1Timeouts(server, limits);
    this.serveHttp1OnFastPath(server);
    server.prependListener('secureConnection', (socket: TLSSocket) => this.secured.add(socket));
    server.on('session', (session) => closeWhenIdle(session, limits.http2IdleTimeoutMs));
    // HTTP/1.1 requests that node:http parses (allowHTTP1) arrive as 'request'. Listening
    // for it also makes node:http2 add its compatibility handler to 'stream', replaced here.
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.options.handle(req, res));
    server.removeAllListeners('stream');
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) =>
      this.options.handleStream(stream, headers),
    );
    // HTTP/1.1 connections fall back to node:http's parser, which reports upgrades here.
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.options.handleUpgrade(req, socket, head),
    );
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      // node:http2 passes failed handshakes on here too: those connections are closed; the
      // HTTP/1.1 parse errors of connections past their handshake are answered as on the
      // plain listener.
      if (this.secured.has(socket)) answerClientError(error, socket);
      else socket.destroy();
    });
    server.on('tlsClientError', (error: Error, socket: Socket) => {
      logger.debug({ err: error.message, remote: socket.remoteAddress }, 'TLS handshake refused');
    });
    server.on('connection', (socket: Socket) => {
      setSocketOptions(socket);
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    // Last, in front of the TLS layer's own listener: a refused connection costs no handshake.
    this.options.connectionCap.guard(server);
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
   * Puts the fast path in front of node:http2's own handling of a finished handshake, as
   * the plain listener does for node:http: HTTP/2 connections go to node:http2 as before;
   * HTTP/1.1 ones start on the fast path, and what it hands over reaches node:http2's
   * listener, which gives HTTP/1.1 to node:http (allowHTTP1).
   */
  private serveHttp1OnFastPath(server: Http2SecureServer): void {
    const http2Listeners = server.listeners('secureConnection') as ((socket: TLSSocket) => void)[];
    const fallback = (socket: TLSSocket): void => {
      for (const listener of http2Listeners) listener.call(server, socket);
    };
    const fast = this.options.fastPath?.(fallback);
    if (!fast) return;
    server.removeAllListeners('secureConnection');
    server.on('secureConnection', (socket: TLSSocket) =>
      socket.alpnProtocol === 'h2' ? fallback(socket) : fast(socket),
    );
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
}
