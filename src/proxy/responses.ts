import { STATUS_CODES, type ServerResponse } from 'node:http';
import { responseHasBody, statusAllowsContentLength } from './framing-policy.js';

// Every answer the proxy makes itself (rather than the app) is decided here, so their
// status codes and wording live in one place. Each is a plain value that either path
// writes its own way: through a ServerResponse (node:http) or as raw bytes (the fast path).
// Either way the framing policy holds (framing-policy.ts): an answer to HEAD has the
// Content-Length a GET would get and no body bytes, which a keep-alive client would
// otherwise read as the start of the next response.

export const RETRY_AFTER_SECONDS = 5;
/** A queue that is full now has room again as soon as one request ends. */
export const QUEUE_FULL_RETRY_AFTER_SECONDS = 1;

export interface ProxyAnswer {
  status: number;
  body: string;
  /** Extra headers beyond content-type, content-length and cache-control. */
  headers: Readonly<Record<string, string>>;
  /** The connection is closed after this answer. */
  close: boolean;
}

function answer(status: number, body: string, headers: Record<string, string> = {}, close = false): ProxyAnswer {
  return { status, body, headers, close };
}

export const respond = {
  health: (): ProxyAnswer => answer(200, 'ok\n'),
  badRequest: (reason: string): ProxyAnswer => answer(400, `Luma: ${reason}.\n`),
  missingHost: (): ProxyAnswer => answer(400, 'Luma: the request has no Host header, so it cannot be routed.\n'),
  unknownHost: (host: string): ProxyAnswer => answer(404, `Luma: no project is routed for host "${host}".\n`),
  startupTimeout: (service: string, timeoutMs: number): ProxyAnswer =>
    answer(503, `Luma: ${service} did not become ready within ${timeoutMs / 1000}s; try again shortly.\n`, {
      'retry-after': String(RETRY_AFTER_SECONDS),
    }),
  unavailable: (service: string, reason: string): ProxyAnswer =>
    answer(503, `Luma: ${service} is unavailable: ${reason}\n`, { 'retry-after': String(RETRY_AFTER_SECONDS) }),
  serviceRemoved: (host: string): ProxyAnswer =>
    answer(404, `Luma: the project for host "${host}" was removed while the request waited.\n`),
  gatewayTimeout: (service: string, timeoutMs: number): ProxyAnswer =>
    answer(504, `Luma: ${service} did not answer within ${timeoutMs / 1000}s.\n`),
  /** The whole-request deadline (spec.timeout): the connection closes, as a body may still be arriving. */
  requestTimeout: (service: string, timeoutMs: number): ProxyAnswer =>
    answer(504, `Luma: ${service} did not answer within its timeout of ${timeoutMs / 1000}s.\n`, {}, true),
  queueFull: (service: string, maxQueued: number): ProxyAnswer =>
    answer(
      429,
      `Luma: every instance of ${service} is at its concurrency limit and ${maxQueued} requests already wait; try again shortly.\n`,
      { 'retry-after': String(QUEUE_FULL_RETRY_AFTER_SECONDS) },
    ),
  shuttingDown: (): ProxyAnswer =>
    answer(503, 'Luma: the proxy is shutting down; try again shortly.\n', { 'retry-after': '1' }, true),
  httpsRequired: (location: string): ProxyAnswer => answer(301, `Luma: moved to ${location}\n`, { location }),
  /** An HTTP-01 challenge's key authorization, for the ACME server that fetched it. */
  acmeChallenge: (keyAuthorization: string): ProxyAnswer => answer(200, keyAuthorization),
  badGateway: (service: string, detail: string): ProxyAnswer =>
    answer(502, `Luma: ${service} did not answer (${detail}).\n`),
};

/** The headers of every answer of the proxy's own, whichever path writes it. */
export const ANSWER_HEADERS = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } as const;

/** Writes an answer through node:http; a response already under way is cut off instead. */
export function writeAnswer(res: ServerResponse, value: ProxyAnswer): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(value.status, {
    ...ANSWER_HEADERS,
    ...(statusAllowsContentLength(value.status) ? { 'content-length': Buffer.byteLength(value.body) } : {}),
    ...value.headers,
    ...(value.close ? { connection: 'close' } : {}),
  });
  // Not left to node:http's own HEAD handling: the answer is framed here, on both paths alike.
  res.end(responseHasBody(res.req.method ?? 'GET', value.status) ? value.body : undefined);
}

/** The same answer as HTTP/1.1 bytes, for a connection the proxy parses itself, to a request with `method`. */
export function serializeAnswer(value: ProxyAnswer, close: boolean, method: string): Buffer {
  const body = Buffer.from(value.body, 'utf8');
  let head = `HTTP/1.1 ${value.status} ${STATUS_CODES[value.status] ?? ''}\r\ncontent-type: ${ANSWER_HEADERS['content-type']}\r\n`;
  if (statusAllowsContentLength(value.status)) head += `content-length: ${body.length}\r\n`;
  head += `cache-control: ${ANSWER_HEADERS['cache-control']}\r\n`;
  for (const [name, headerValue] of Object.entries(value.headers)) head += `${name}: ${headerValue}\r\n`;
  if (close || value.close) head += 'connection: close\r\n';
  head += '\r\n';
  const headBytes = Buffer.from(head, 'latin1');
  return responseHasBody(method, value.status) ? Buffer.concat([headBytes, body]) : headBytes;
}
