import http2, { type IncomingHttpHeaders } from 'node:http2';
import type { OutgoingHttpHeaders } from 'node:http';

// HTTP/2 requests reach the proxy through Node's compatibility API, whose request and
// response objects mimic node:http's. Two adjustments close the remaining gaps so the
// proxy's forwarding code (written for HTTP/1.1) works unchanged:
// - the request's headers carry `host` (HTTP/2 says `:authority`) and no pseudo-headers,
//   which an HTTP/1.1 upstream would refuse; a body without content-length is marked
//   `transfer-encoding: chunked`, as HTTP/1.1 would frame it, so it is forwarded;
// - the response drops what HTTP/2 forbids (connection-specific headers, a status
//   message) instead of throwing.

const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/**
 * Gives an HTTP/2 request the headers an HTTP/1.1 request would have. The compat request's
 * url and method read the pseudo-headers from its own internal copy, which stays intact:
 * only the `headers` seen by the proxy is replaced.
 */
export function asHttp1Headers(req: http2.Http2ServerRequest): void {
  const original = req.headers;
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of Object.entries(original)) if (!name.startsWith(':')) headers[name] = value;
  const authority = original[':authority'];
  if (headers.host === undefined && typeof authority === 'string') headers.host = authority;
  if (headers['content-length'] === undefined && !req.stream.endAfterHeaders) headers['transfer-encoding'] = 'chunked';
  Object.defineProperty(req, 'headers', { value: headers, enumerable: true, configurable: true });
  // The Host checks read rawHeaders (one Host line, RFC 9112 §3.2): the authority counts as one.
  const rawHeaders: string[] = [];
  for (const [name, value] of Object.entries(headers)) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value])
      rawHeaders.push(name, String(item));
  }
  Object.defineProperty(req, 'rawHeaders', { value: rawHeaders, enumerable: true, configurable: true });
}

function isConnectionSpecific(name: string): boolean {
  return CONNECTION_SPECIFIC.has(name.toLowerCase());
}

export class Http1StyleResponse extends http2.Http2ServerResponse {
  override setHeader(name: string, value: number | string | readonly string[]): void {
    if (!isConnectionSpecific(name)) super.setHeader(name, value);
  }

  override writeHead(
    statusCode: number,
    statusOrHeaders?: string | OutgoingHttpHeaders | readonly string[],
    maybeHeaders?: OutgoingHttpHeaders | readonly string[],
  ): this {
    const headers = typeof statusOrHeaders === 'string' ? maybeHeaders : statusOrHeaders;
    if (headers === undefined) return super.writeHead(statusCode);
    if (Array.isArray(headers)) {
      const flat = headers as readonly string[];
      const kept: string[] = [];
      for (let index = 0; index + 1 < flat.length; index += 2) {
        const name = flat[index] ?? '';
        if (!isConnectionSpecific(name)) kept.push(name, flat[index + 1] ?? '');
      }
      return super.writeHead(statusCode, kept as unknown as OutgoingHttpHeaders);
    }
    const kept: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders))
      if (!isConnectionSpecific(name)) kept[name] = value;
    return super.writeHead(statusCode, kept);
  }
}
