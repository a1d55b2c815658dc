import { routeableTarget, type RequestTarget } from './request-target.js';
import type { TLSSocket } from 'node:tls';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientExchange, ForwardOptions, ForwardOutcome } from './exchange.js';
import { upstreamHeaders, type Forwarder } from './forwarder.js';
import { forwardH2c, type H2cRequest } from './h2c/h2c-forward.js';
import { Http1ResponseSink } from './h2c/response-sink.js';
import { ensureRequestId } from './request-id.js';
import { writeAnswer, type ProxyAnswer } from './responses.js';
import type { Target } from './route-table.js';

// A request that node:http parsed: everything the fast path hands over (anything unusual),
// and the answers written before a WebSocket upgrade. Forwarded through undici.

export class NodeExchange implements ClientExchange {
  readonly via = 'node';
  readonly requestId: string;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly forwarder: Forwarder,
  ) {
    // Set in the request's headers, so undici forwards it.
    this.requestId = ensureRequestId(req);
  }

  get encrypted(): boolean {
    return (this.req.socket as Partial<TLSSocket>).encrypted === true;
  }

  resolveTarget(): RequestTarget {
    // An absolute-form target is rewritten to origin form here, so the app sees a path.
    return routeableTarget(this.req);
  }

  get method(): string {
    return this.req.method ?? 'GET';
  }

  get url(): string {
    return this.req.url ?? '/';
  }

  get hostHeader(): string | undefined {
    return this.req.headers.host;
  }

  get hasBody(): boolean {
    const length = this.req.headers['content-length'];
    return this.req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  }

  get responseStarted(): boolean {
    return this.res.headersSent;
  }

  answer(value: ProxyAnswer): void {
    writeAnswer(this.res, value);
  }

  forward(target: Target, options: ForwardOptions): Promise<ForwardOutcome> {
    if (options.h2c)
      return forwardH2c(options.h2c, target, this.h2cRequest(options), new Http1ResponseSink(this.res), options);
    return this.forwarder.forward(this.req, this.res, target, options);
  }

  /** The request as an h2c app gets it: translated from HTTP/1.1, its chunked body's trailers included. */
  private h2cRequest(options: ForwardOptions): H2cRequest {
    const req = this.req;
    return {
      method: this.method,
      path: this.url,
      authority: req.headers.host,
      headers: upstreamHeaders(req, options.trustForwardedHeaders),
      te: req.headers.te,
      body: this.hasBody ? req : null,
      trailers: () => req.trailers,
    };
  }

  onClientGone(listener: () => void): () => void {
    const socket = this.req.socket;
    socket.once('close', listener);
    return () => socket.off('close', listener);
  }
}
