import fc from 'fast-check';

// Request streams for the differential fuzzer of the proxy's HTTP/1.1 framing: a few
// pipelined requests, each drawn from one family of smuggling attempts or oddities
// (CL.TE, TE.CL, TE.TE obfuscation, listed and duplicate lengths, Connection-listed
// headers, obs-fold, bare CR/LF, NUL, chunk sizes and extensions, trailers, HTTP/1.0,
// Expect, Upgrade, absolute-form targets, several Hosts), then byte mutations, then a
// closing request, cut into writes at random byte offsets. Everything is latin1 text so
// that a failing case prints as one escaped string per write.

export const ROUTED_HOST = 'app.test';
/** The last request of every stream: its answer closes the connection, which ends a case early. */
export const CLOSING_REQUEST = `GET /end HTTP/1.1\r\nHost: ${ROUTED_HOST}\r\nx-marker: end\r\nConnection: close\r\n\r\n`;

/** One request as written: the request line, the header lines and the body, all verbatim. */
export interface RequestParts {
  line: string;
  headers: string[];
  body: string;
}

/** A case: the stream as the client writes it, write by write. */
export interface StreamCase {
  writes: string[];
}

export function render(request: RequestParts): string {
  return `${request.line}\r\n${request.headers.map((header) => `${header}\r\n`).join('')}\r\n${request.body}`;
}

const marker = fc.integer({ min: 1, max: 99 }).map((n) => `x-marker: m${n}`);
const host = `Host: ${ROUTED_HOST}`;
const plainMethod = fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH');
const path = fc.constantFrom(
  '/',
  '/a',
  '/a?b=c',
  '/status/204',
  '/status/304',
  '/status/404',
  '/status/500',
  '/x%20y',
  '/a/../b',
);
const bodyText = fc.stringMatching(/^[a-z0-9 \r\n:]{0,12}$/);
/** A request the app would parse as its own, to be hidden in another's body. */
const smuggled = fc.constantFrom(
  `GET /smuggled HTTP/1.1\r\n${host}\r\nx-marker: smuggled\r\n\r\n`,
  `GPOST /s HTTP/1.1\r\n${host}\r\n\r\n`,
  'X',
);

function lengthHeader(body: string): string {
  return `Content-Length: ${body.length}`;
}

/** An ordinary request, with a body framed by its length or none. */
const plain = fc
  .record({ method: plainMethod, path, body: fc.option(bodyText, { nil: undefined }), marker })
  .map(({ method, path: target, body, marker: mark }): RequestParts => ({
    line: `${method} ${target} HTTP/1.1`,
    headers: [host, mark, ...(body === undefined ? [] : [lengthHeader(body)])],
    body: body ?? '',
  }));

const chunkSize = fc.constantFrom(
  '5',
  '05',
  '0005',
  'a',
  'A',
  '0x5',
  '-5',
  '+5',
  'fffffffffffffffff',
  '5 ',
  '5;ext=1',
  '5 ;ext',
  '5;e="q"',
  '5;',
  '5\t',
);
const trailer = fc.constantFrom(
  '',
  'Trailer-X: 1\r\n',
  'Content-Length: 9\r\n',
  'Host: other.test\r\n',
  'bad trailer\r\n',
);

/** A chunked body with one chunk whose size line is drawn from the odd ones. */
const chunkedBody = fc
  .record({ size: chunkSize, trailer, tail: fc.option(smuggled, { nil: '' }) })
  .map(({ size, trailer: t, tail }) => `${size}\r\nhello\r\n0\r\n${t}\r\n${tail}`);

const transferEncoding = fc.constantFrom(
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: xchunked',
  'Transfer-Encoding:  chunked',
  'Transfer-Encoding: chunked, identity',
  'Transfer-Encoding: identity, chunked',
  'Transfer-Encoding:\tchunked',
  'Transfer-Encoding: Chunked',
  'TRANSFER-ENCODING: chunked',
  'Transfer-Encoding: chunked\t',
  'Transfer-Encoding: "chunked"',
  'Transfer-Encoding : chunked',
  'Transfer-Encoding: gzip, chunked',
  'Transfer-Encoding: chunked, chunked',
);

/** CL.TE, TE.CL and TE.TE: a chunked body with Content-Length and Transfer-Encoding variants around it. */
const teFamily = fc
  .record({
    te: fc.array(transferEncoding, { minLength: 1, maxLength: 2 }),
    cl: fc.constantFrom('none', 'full', 'short', 'zero'),
    body: chunkedBody,
    teFirst: fc.boolean(),
    marker,
  })
  .map(({ te, cl, body, teFirst, marker: mark }): RequestParts => {
    const length = { none: [], full: [lengthHeader(body)], short: ['Content-Length: 4'], zero: ['Content-Length: 0'] }[
      cl
    ];
    return {
      line: 'POST / HTTP/1.1',
      headers: [host, mark, ...(teFirst ? [...te, ...length] : [...length, ...te])],
      body,
    };
  });

const lengthValue = fc.constantFrom(
  '5',
  '5, 5',
  '5,5',
  '5, 6',
  '+5',
  '0x5',
  '05',
  '-5',
  '5.0',
  '1e1',
  '',
  ' 5 ',
  '5\t',
  '99999999999999999999',
  '4294967301',
  '000000000000000005',
);
/** Content-Length oddities: listed, signed, hex, repeated, huge; the body holds five bytes and a smuggled tail. */
const lengthFamily = fc
  .record({ values: fc.array(lengthValue, { minLength: 1, maxLength: 2 }), tail: smuggled, marker })
  .map(({ values, tail, marker: mark }): RequestParts => ({
    line: 'POST / HTTP/1.1',
    headers: [host, mark, ...values.map((value) => `Content-Length: ${value}`)],
    body: `hello${tail}`,
  }));

const connectionToken = fc.constantFrom(
  'close',
  'keep-alive',
  'x-marker',
  'te',
  'upgrade',
  'Keep-Alive, x-marker',
  'close, x-marker',
  'content-length',
  'host',
  'transfer-encoding',
  'Content-Length',
  'close, host',
);
/** A Connection header naming other headers: what it names must not change how the request is framed. */
const connectionFamily = fc
  .record({ token: connectionToken, body: bodyText, marker, te: fc.boolean() })
  .map(({ token, body, marker: mark, te }): RequestParts => ({
    line: 'POST /c HTTP/1.1',
    headers: [host, mark, `Connection: ${token}`, ...(te ? ['Transfer-Encoding: chunked'] : [lengthHeader(body)])],
    body: te ? `${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n` : body,
  }));

const version = fc.constantFrom('HTTP/1.0', 'HTTP/1.1', 'HTTP/1.2', 'HTTP/2.0', 'http/1.1', 'HTTP/1.1 ', 'HTTP/01.1');
const keepAlive = fc.constantFrom([], ['Connection: keep-alive'], ['Connection: close']);
/** HTTP/1.0 (with and without keep-alive) and other versions. */
const versionFamily = fc
  .record({ version, keepAlive, withHost: fc.boolean(), marker })
  .map(({ version: v, keepAlive: extra, withHost, marker: mark }): RequestParts => ({
    line: `GET /v ${v}`,
    headers: [...(withHost ? [host] : []), mark, ...extra],
    body: '',
  }));

const target = fc.constantFrom(
  'http://app.test/abs',
  'HTTP://APP.TEST/abs',
  'http://app.test',
  'https://app.test/x',
  'ftp://app.test/',
  'http://other.test/',
  '*',
  'app.test:80',
  '/a#frag',
  '/a b',
  '//app.test/',
);
const odd = fc.constantFrom(
  'FOO',
  'get',
  'M-SEARCH',
  'PRI',
  'CONNECT',
  'PROPFIND',
  'PURGE',
  'QUERY',
  'LINK',
  'SOURCE',
  'TRACE',
  'ACL',
);
const hosts = fc.constantFrom(
  [host],
  [host, host],
  [host, 'Host: other.test'],
  ['Host: '],
  ['Host: app.test:8080'],
  ['Host: APP.TEST.'],
  ['Host: app.test:99999'],
  ['Host: other.test'],
  ['Host: a b'],
  [],
);
/** Targets, methods and Hosts: absolute form, odd methods, missing, repeated or unrouted Hosts. */
const routingFamily = fc
  .record({ method: fc.oneof(fc.constant('GET'), odd), target: fc.oneof(target, path), hosts, marker })
  .map(({ method, target: t, hosts: h, marker: mark }): RequestParts => ({
    line: `${method} ${t} HTTP/1.1`,
    headers: [...h, mark],
    body: '',
  }));

const oddHeader = fc.constantFrom(
  'X-Folded: a\r\n b',
  'X-Folded: a\r\n\tb',
  'X-Bare-CR: a\rb',
  'X-Bare-LF: a\nb',
  'X-Nul: a\u0000b',
  'X-Del: a\u007fb',
  'X-Latin: caf\u00e9',
  'X-Empty:',
  'X Space: a',
  'X-Colon:: a',
  ': no-name',
  'Expect: 100-continue',
  'Expect: 100-Continue',
  'Expect: nothing',
  'Content-Length: 3',
  'Transfer-Encoding: chunked',
  'X-Request-Id: given-id',
  'X-Forwarded-For: 6.6.6.6',
  // Upgrades, refused by the recording backend (it answers them as plain requests).
  'Upgrade: websocket',
  'Upgrade: h2c',
  'Connection: Upgrade',
);
/** Header lines that break the grammar or change how the request is handled, with a small body. */
const headerFamily = fc
  .record({
    extra: fc.array(oddHeader, { minLength: 1, maxLength: 2 }),
    marker,
    body: fc.constantFrom('', 'abc', '3\r\nabc\r\n0\r\n\r\n'),
  })
  .map(({ extra, marker: mark, body }): RequestParts => ({
    line: 'POST /h HTTP/1.1',
    headers: [host, mark, ...extra],
    body,
  }));

const request = fc.oneof(
  { weight: 3, arbitrary: plain },
  { weight: 3, arbitrary: teFamily },
  { weight: 2, arbitrary: lengthFamily },
  { weight: 2, arbitrary: connectionFamily },
  { weight: 1, arbitrary: versionFamily },
  { weight: 2, arbitrary: routingFamily },
  { weight: 3, arbitrary: headerFamily },
);

const MUTATION_BYTES = ['\r', '\n', '\u0000', ' ', '\t', '\u007f', '\u00ff', ':', '0', 'a'];
/** A byte inserted, replaced or deleted at a position (taken modulo the stream's length). */
const mutation = fc.record({
  kind: fc.constantFrom('insert', 'replace', 'delete'),
  at: fc.nat(),
  byte: fc.constantFrom(...MUTATION_BYTES),
});
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(text: string, { kind, at, byte }: Mutation): string {
  if (text.length === 0) return text;
  const index = at % text.length;
  if (kind === 'insert') return text.slice(0, index) + byte + text.slice(index);
  return text.slice(0, index) + (kind === 'replace' ? byte : '') + text.slice(index + 1);
}

/** Cuts `text` at the given offsets (taken modulo its length), in order. */
export function splitAt(text: string, offsets: readonly number[]): string[] {
  const cuts = [...new Set(offsets.map((offset) => offset % Math.max(1, text.length)))]
    .filter((cut) => cut > 0)
    .sort((a, b) => a - b);
  const writes: string[] = [];
  let start = 0;
  for (const cut of cuts) {
    writes.push(text.slice(start, cut));
    start = cut;
  }
  writes.push(text.slice(start));
  return writes;
}

/** A whole case: requests, mutations of their bytes, the closing request, and where the writes are cut. */
export const streamCase: fc.Arbitrary<StreamCase> = fc
  .record({
    requests: fc.array(request, { minLength: 1, maxLength: 4 }),
    mutations: fc.array(mutation, { maxLength: 2 }),
    cuts: fc.array(fc.nat(), { maxLength: 3 }),
  })
  .map(({ requests, mutations, cuts }) => {
    let text = requests.map(render).join('');
    for (const change of mutations) text = mutate(text, change);
    return { writes: splitAt(text + CLOSING_REQUEST, cuts) };
  });
