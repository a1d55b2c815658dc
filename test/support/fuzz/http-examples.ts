import { CLOSING_REQUEST } from './http-streams.js';

// The differential fuzzer's example suite: streams it found (shrunk) or that stand for a
// family, run on every `make test` whatever the random cases are. Each is the list of
// writes the client makes, verbatim. A case the fuzzer finds is pasted here as printed.

export interface FramingExample {
  name: string;
  writes: string[];
}

const H = 'Host: app.test\r\n';

export const FRAMING_EXAMPLES: FramingExample[] = [
  // llhttp reads these as version 2 on an HTTP/1.1 connection; over TLS the listener took
  // them for HTTP/2 requests and threw (found by the TLS fuzz run).
  {
    name: 'HTTP/2.0 in an HTTP/1.1 request line',
    writes: [`GET /v2 HTTP/2.0\r\n${H}\r\n${CLOSING_REQUEST}`],
  },
  {
    name: 'HTTP/2.0 in an HTTP/1.1 request line, with a body',
    writes: [`POST /v2 HTTP/2.0\r\n${H}Content-Length: 3\r\n\r\nabc${CLOSING_REQUEST}`],
  },
  {
    name: 'plain keep-alive pair',
    writes: [
      `GET /a HTTP/1.1\r\n${H}x-marker: m1\r\n\r\nPOST /b HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabc${CLOSING_REQUEST}`,
    ],
  },
  {
    name: 'CL.TE with a smuggled request',
    writes: [
      `POST / HTTP/1.1\r\n${H}Content-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\n${H}\r\n${CLOSING_REQUEST}`,
    ],
  },
  {
    name: 'TE.CL with a smuggled request',
    writes: [
      `POST / HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2c\r\nGET /smuggled HTTP/1.1\r\n${H}x-marker: s\r\n\r\n\r\n0\r\n\r\n${CLOSING_REQUEST}`,
    ],
  },
  {
    name: 'TE.TE obfuscation: xchunked',
    writes: [`POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\nContent-Length: 3\r\n\r\nabc${CLOSING_REQUEST}`],
  },
  {
    name: 'listed Content-Length',
    writes: [`POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\n\r\nhello${CLOSING_REQUEST}`],
  },
  {
    name: 'head split inside the Host line',
    writes: [`GET / HTTP/1.1\r\nHo`, `st: app.test\r\n\r\n${CLOSING_REQUEST}`],
  },
  { name: 'obs-fold', writes: [`GET / HTTP/1.1\r\n${H}X-Folded: a\r\n b\r\n\r\n${CLOSING_REQUEST}`] },
  { name: 'HTTP/1.0 without Host', writes: [`GET /v HTTP/1.0\r\n\r\n`] },
  // Found: a method llhttp does not know reached the app from the fast path.
  {
    name: 'a smuggled unknown method after a body',
    writes: [
      `POST / HTTP/1.1\r\n${H}x-marker: m1\r\nContent-Length: 5\r\n\r\nhelloGPOST /s HTTP/1.1\r\n${H}\r\n${CLOSING_REQUEST}`,
    ],
  },
  // Found: the fast path passed a leading-zero length to the app verbatim.
  {
    name: 'Content-Length with a leading zero',
    writes: [`POST / HTTP/1.1\r\n${H}x-marker: m1\r\nContent-Length: 05\r\n\r\nhello${CLOSING_REQUEST}`],
  },
  // Found: an upgrade pipelined behind a request left the connection open and untracked (and an unhandled rejection).
  {
    name: 'an upgrade pipelined behind a request',
    writes: [
      `GET / HTTP/1.1\r\n${H}x-marker: m1\r\n\r\nPOST /h HTTP/1.1\r\n${H}x-marker: m1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n${CLOSING_REQUEST}`,
    ],
  },
  // Found: node:http drops the answer in flight when a CONNECT follows; the fast path answers it first.
  {
    name: 'a CONNECT pipelined behind a request',
    writes: [`GET / HTTP/1.1\r\n${H}x-marker: m1\r\n\r\nCONNECT / HTTP/1.1\r\n${H}\r\n${CLOSING_REQUEST}`],
  },
  // Found: the fast path read a tab after the digits as OWS; llhttp refuses the length, so the app answered 400 and the next request was served.
  {
    name: 'a tab after the Content-Length digits',
    writes: [`HEAD /x HTTP/1.1\r\n${H}x-marker: m1\r\nContent-Length: 4\t\r\n\r\n\n:\r0${CLOSING_REQUEST}`],
  },
  // Found: an upgrade the app refused (it answered 200) left the client socket half-open and untracked once relayed.
  {
    name: 'bytes after a refused upgrade',
    writes: [
      `POST /h HTTP/1.1\r\n${H}x-marker: m1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`,
      `POST /c HTTP/1.1\r\n${H}Connection: close\r\nContent-Length: 0\r\n\r\n${CLOSING_REQUEST}`,
    ],
  },
  // Found by make test-fuzz-proxy: an upgrade pipelined behind a request still being answered cut the connection, and that answer was lost.
  {
    name: 'an upgrade behind a request still being answered',
    writes: [
      `PURGE http://app.test/abs HTTP/1.1\r\nHost: other.test\r\nx-marker: m1\r\n\r\nGET /status/404 HTTP/1.1\r\n${H}x-marker: m4\r\nContent-Length: 3\r\n\r\n: :POS`,
      `T /h HTTP/1.1\r\n${H}x-marker: m89\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n${CLOSING_REQUEST}`,
    ],
  },
  // Found by make test-fuzz-proxy (seed 2066305293): the proxy's own answer to an upgrade (400, no Host) left the socket half-open and untracked when the client went on writing.
  {
    name: 'bytes after the proxy refused an upgrade itself',
    writes: [
      `TRACE http://other.test/ HTTP/1.1\r\nHost: APP.TEST.\r\nx-marker: m10\r\n\r\nPOST /h HTTP/1.1\r\nost: app.test\r\nx-marker: m10\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`,
      `abcGET /v HTTP/01.1\r\n${H}x-marker: m1\r\n\r\n${CLOSING_REQUEST}`,
    ],
  },
  {
    name: 'data after Connection: close',
    writes: [
      `POST /c HTTP/1.1\r\n${H}Connection: close\r\nContent-Length: 0\r\n\r\nGET / HTTP/1.1\r\n${H}\r\n${CLOSING_REQUEST}`,
    ],
  },
];
