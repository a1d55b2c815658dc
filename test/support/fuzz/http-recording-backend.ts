import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

// The app behind the proxy in the differential fuzzer: a node:http server, so llhttp
// parses exactly what the proxy sends it. It records every request it parsed (the fields
// that matter for framing and routing, and the body bytes), and answers something
// derived from the request alone, so that two runs of the same stream get the same
// answers. `/status/NNN` picks the status (204 and 304 then have no body).

/** What the backend saw of one request; equal on both paths, or the paths diverged. */
export interface RecordedRequest {
  method: string;
  url: string;
  host: string | undefined;
  /**
   * How the body was framed to the app: `length N` for a Content-Length or for plain
   * chunked without trailers (undici re-frames a chunked upload either way, by timing);
   * anything else verbatim.
   */
  framing: string;
  forwardedFor: string | undefined;
  /** The generator's marker of the message it came from: a smuggled request shows its own. */
  marker: string | undefined;
  /** Body bytes as latin1 text. */
  body: string;
  /** Trailers llhttp read after a chunked body. */
  trailers: string;
}

export interface RecordingBackend {
  address: string;
  readonly requests: RecordedRequest[];
  /** Counts everything that happened (a request head, body bytes, an answer finished): progress, when it changes. */
  events(): number;
  close(): Promise<void>;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

function statusFor(url: string): number {
  const match = /^\/status\/([1-5]\d\d)\b/.exec(url);
  const status = match ? Number(match[1]) : 200;
  // 1xx finals and 101 would change the connection's protocol: not an app's answer here.
  return status < 200 ? 200 : status;
}

/** Content-Length 0 and no framing at all frame the same empty body (undici leaves a zero length out). */
function framingOf(req: IncomingMessage, body: string, trailers: string): string {
  const length = single(req.headers['content-length']);
  const encoding = single(req.headers['transfer-encoding']);
  if (encoding === undefined) return length === undefined || length === '0' ? 'none' : `length ${length}`;
  if (encoding === 'chunked' && length === undefined && trailers === '{}')
    return body.length === 0 ? 'none' : `length ${body.length}`;
  return `content-length=${length ?? '-'} transfer-encoding=${encoding}`;
}

function record(req: IncomingMessage, body: string): RecordedRequest {
  return {
    method: req.method ?? '',
    url: req.url ?? '',
    host: single(req.headers.host),
    framing: framingOf(req, body, JSON.stringify(req.trailers)),
    forwardedFor: single(req.headers['x-forwarded-for']),
    marker: single(req.headers['x-marker']),
    body,
    trailers: JSON.stringify(req.trailers),
  };
}

function answer(req: IncomingMessage, res: ServerResponse, seen: RecordedRequest): void {
  const status = statusFor(seen.url);
  const text = `${seen.method} ${seen.url} marker=${seen.marker ?? '-'} body=${seen.body.length}\n`;
  res.statusCode = status;
  res.setHeader('content-type', 'text/plain');
  // ASCII only: obs-text in a response header is re-encoded by node:http's path (reported
  // separately); this fuzzer is about request framing.
  res.setHeader('x-echo-marker', encodeURIComponent(seen.marker ?? '-'));
  // Tells the client view that no body follows this head.
  if (req.method === 'HEAD') res.setHeader('x-echo-method', 'HEAD');
  if (status === 204 || status === 304) {
    res.end();
    return;
  }
  res.setHeader('content-length', Buffer.byteLength(text));
  res.end(req.method === 'HEAD' ? undefined : text);
}

export async function startRecordingBackend(): Promise<RecordingBackend> {
  const requests: RecordedRequest[] = [];
  let events = 0;
  const server = http.createServer((req, res) => {
    events++;
    res.on('close', () => events++);
    let body = '';
    req.setEncoding('latin1');
    req.on('data', (chunk: string) => {
      events++;
      body += chunk;
    });
    req.on('end', () => {
      const seen = record(req, body);
      requests.push(seen);
      answer(req, res, seen);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    events: () => events,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
