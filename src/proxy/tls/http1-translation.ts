import type { OutgoingHttpHeaders } from 'node:http2';
import type { ResponseHead } from '../http1/response-head.js';

// An HTTP/2 stream's request as HTTP/1.1 bytes for the fast path's upstream pool, and a
// parsed HTTP/1.1 response head as HTTP/2 headers. nghttp2 has already checked the
// stream's header names and values, but not as strictly as an HTTP/1.1 request line
// needs: a :path with a space or a value with a control byte would let the client write
// its own request line or header to the app, so both are checked here as undici checked them.

/** A :path byte that does not belong in a request line (undici's rule: 0x21–0xFF only). */
const INVALID_PATH = /[^\u0021-\u00ff]/;
/** A header value byte HTTP/1.1 does not allow (undici's rule). */
const INVALID_VALUE = /[^\t\u0020-\u007e\u0080-\u00ff]/;
const LF = 10;
const COLON = 58;
const SP = 32;
const HTAB = 9;

/**
 * The request head (blank line included) for `method` and `path` with `headers`, chunked
 * when the body's length is not known; undefined when the request cannot be written as
 * HTTP/1.1 (a CONNECT, a path or a value with bytes a request line or header may not hold).
 */
export function http1RequestHead(
  method: string,
  path: string,
  headers: Readonly<Record<string, string | string[]>>,
  chunked: boolean,
): string | undefined {
  if (method === 'CONNECT' || path.length === 0 || INVALID_PATH.test(path)) return undefined;
  let text = `${method} ${path} HTTP/1.1\r\n`;
  for (const name in headers) {
    const value = headers[name] as string | string[];
    if (typeof value === 'string') {
      if (INVALID_VALUE.test(value)) return undefined;
      text += `${name}: ${value}\r\n`;
      continue;
    }
    for (const item of value) {
      if (INVALID_VALUE.test(item)) return undefined;
      text += `${name}: ${item}\r\n`;
    }
  }
  if (chunked) text += 'transfer-encoding: chunked\r\n';
  return `${text}\r\n`;
}

/**
 * The head's kept header lines (parseResponseHead() dropped the hop-by-hop ones) as HTTP/2
 * headers: names lower-cased, repeated ones as arrays, Transfer-Encoding left out (HTTP/2
 * frames the body itself). `buffer` is the one the head was parsed from.
 */
export function http2ResponseHeaders(head: ResponseHead, buffer: Buffer): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = { ':status': head.status };
  const ranges = head.forwardRanges;
  for (let range = 0; range < ranges.length; range += 2) {
    let at = ranges[range] as number;
    const end = ranges[range + 1] as number;
    // The first range starts with the status line's code and reason.
    if (range === 0) at = buffer.indexOf(LF, at) + 1;
    while (at < end) {
      const lineEnd = buffer.indexOf(LF, at); // every kept line ends in CRLF
      const colon = buffer.indexOf(COLON, at);
      let valueStart = colon + 1;
      let valueEnd = lineEnd - 1;
      while (valueStart < valueEnd && (buffer[valueStart] === SP || buffer[valueStart] === HTAB)) valueStart++;
      while (valueEnd > valueStart && (buffer[valueEnd - 1] === SP || buffer[valueEnd - 1] === HTAB)) valueEnd--;
      const name = buffer.toString('latin1', at, colon).toLowerCase();
      at = lineEnd + 1;
      if (name === 'transfer-encoding') continue;
      const value = buffer.toString('latin1', valueStart, valueEnd);
      const previous = headers[name];
      if (previous === undefined) headers[name] = value;
      else if (Array.isArray(previous)) previous.push(value);
      else headers[name] = [String(previous), value];
    }
  }
  return headers;
}
