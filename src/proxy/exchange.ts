import type { H2cSessions } from './h2c/session-pool.js';
import type { RequestDeadline } from './request-deadline.js';
import type { RequestTarget } from './request-target.js';
import type { ProxyAnswer } from './responses.js';
import type { Target } from './route-table.js';

// One client request as the proxy's routing sees it, whichever path parsed it: node:http
// (NodeExchange) or the plain HTTP/1.1 fast path (FastExchange). Routing, holding,
// balancing and activity accounting are written once against this interface.

export type ForwardOutcome =
  | { kind: 'response'; status: number }
  | { kind: 'upstream-error'; error: Error }
  | { kind: 'response-timeout' }
  /** The request's whole deadline passed: forwarding stopped; the proxy answers 504 or cuts the answer begun. */
  | { kind: 'request-timeout' }
  | { kind: 'client-aborted' };

export interface ForwardOptions {
  responseTimeoutMs: number;
  /**
   * A client that takes no byte of the response for this long (its socket or HTTP/2 stream
   * stays full) is cut off. Only node:http's requests read it: the fast path has its own.
   */
  sendTimeoutMs?: number;
  /** Keep the client's X-Forwarded-* (a trusted proxy in front) rather than overwrite them. */
  trustForwardedHeaders: boolean;
  /** Told when the upstream's answer begins (for the time to first byte of a held request). */
  onResponseHead?: () => void;
  /** The app speaks HTTP/2 cleartext (spec.http2): forwarded on these sessions, not over HTTP/1.1. */
  h2c?: H2cSessions;
  /** The request's whole deadline (spec.timeout): when it passes, the forward settles with 'request-timeout'. */
  deadline?: RequestDeadline;
}

export interface ClientExchange {
  /** Which path parsed the request: the fast path, or node:http (everything unusual). */
  readonly via: 'fast' | 'node';
  /** Arrived over TLS (only node:http serves the HTTPS listener). */
  readonly encrypted: boolean;
  readonly method: string;
  /** The request target as sent (origin form: path and query). */
  readonly url: string;
  /** The Host header as sent, if any. */
  readonly hostHeader: string | undefined;
  /** Its X-Request-Id: the client's when well-formed, else one given by the proxy; forwarded to the app. */
  readonly requestId: string;
  /** Whether the request carries a body: such a request is never sent twice. */
  readonly hasBody: boolean;
  /** Whether a response head has gone to the client (nothing else can be answered then). */
  readonly responseStarted: boolean;
  /** The host it is for, checked as RFC 9112 §3.2 asks (one valid Host, or an absolute-form target's authority). */
  resolveTarget(): RequestTarget;
  /** Writes one of the proxy's own answers. */
  answer(value: ProxyAnswer): void;
  /** Sends the request to the target and relays its response. */
  forward(target: Target, options: ForwardOptions): Promise<ForwardOutcome>;
  /** Calls `listener` once if the client goes away; returns what stops listening. */
  onClientGone(listener: () => void): () => void;
}
