// The proxy's framing policy, written once for both of its paths (the fast path in
// http1/ and node:http with undici) and for the answers it writes itself:
//
// - Content-Length, Transfer-Encoding and Host are never removed because a Connection
//   header names them. The proxy finds the end of a message by its framing headers (and
//   routes a request by its Host); were the next hop to get the message without them, it
//   would frame it differently, and a request body would become a second request on the
//   pooled upstream connection, answered to whoever uses it next. They are kept rather
//   than refused: llhttp accepts such a request, and the app then frames it as the proxy did.
// - A message that cannot be framed with certainty is never guessed at: the fast path
//   hands it to llhttp (request-head.ts) or answers 502 (response-head.ts).
// - A response to HEAD, and any 1xx, 204 or 304, has no body whatever its headers say.

const FRAMING_HEADERS: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'host']);

/** Whether a Connection header naming `lowerName` makes it hop-by-hop: every header but the framing ones. */
export function connectionMayRemove(lowerName: string): boolean {
  return !FRAMING_HEADERS.has(lowerName);
}

/** Whether a response with `status` to a request with `method` carries a body (RFC 9112 §6.3 items 1–2). */
export function responseHasBody(method: string, status: number): boolean {
  return method !== 'HEAD' && status >= 200 && status !== 204 && status !== 304;
}

/** Whether a response with `status` may carry a Content-Length (RFC 9110 §8.6: never in 1xx and 204). */
export function statusAllowsContentLength(status: number): boolean {
  return status >= 200 && status !== 204;
}
