import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import { HOP_BY_HOP } from '../hop-by-hop.js';

// Header rules between a client request and an h2c app (RFC 9113 §8.2.2, §8.3): the
// request's pseudo-headers are written by the proxy, connection-specific headers never
// cross (node:http2 refuses them anyway), and TE crosses only as `trailers`, which gRPC
// requires. Response heads and trailers lose their pseudo-headers and hop-by-hop ones.

export interface H2cRequestHead {
  method: string;
  /** Origin form: path and query. */
  path: string;
  /** The Host the client asked for: the app sees it as :authority. */
  authority: string | undefined;
  /** Regular headers, hop-by-hop ones already left out, X-Forwarded-* set by the proxy. */
  headers: OutgoingHttpHeaders;
  /** The client's TE header, of which only `trailers` is passed on. */
  te: string | string[] | undefined;
}

/** Whether a TE header lists `trailers` (RFC 9110 §10.1.4). */
export function acceptsTrailers(te: string | string[] | undefined): boolean {
  if (te === undefined) return false;
  const values = typeof te === 'string' ? [te] : te;
  return values.some((value) =>
    value.split(',').some((part) => part.split(';')[0]?.trim().toLowerCase() === 'trailers'),
  );
}

/** The HEADERS of the upstream request: pseudo-headers first, then the regular ones. */
export function h2cRequestHeaders(head: H2cRequestHead): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ':method': head.method, ':path': head.path, ':scheme': 'http' };
  if (head.authority !== undefined) headers[':authority'] = head.authority;
  for (const [name, value] of Object.entries(head.headers)) {
    // :authority carries the host; an HTTP/2 request sends no Host of its own beside it.
    if (value === undefined || name === 'host' || name.startsWith(':') || HOP_BY_HOP.has(name)) continue;
    headers[name] = value;
  }
  if (acceptsTrailers(head.te)) headers.te = 'trailers';
  return headers;
}

/** A response head or trailer block from the app, as passed to the client: no pseudo-headers, no hop-by-hop ones. */
export function passedOn(source: IncomingHttpHeaders): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(source)) {
    if (value === undefined || name.startsWith(':') || HOP_BY_HOP.has(name)) continue;
    headers[name] = value;
  }
  return headers;
}

/** Trailers worth sending: undefined when there are none. */
export function trailersOf(source: IncomingHttpHeaders | undefined): OutgoingHttpHeaders | undefined {
  if (source === undefined) return undefined;
  const trailers = passedOn(source);
  // Framing belongs to the head; a trailer that names it is dropped (RFC 9110 §6.5.1).
  delete trailers['content-length'];
  delete trailers.host;
  return Object.keys(trailers).length > 0 ? trailers : undefined;
}
