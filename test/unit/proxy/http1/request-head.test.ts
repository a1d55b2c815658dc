import { describe, expect, it } from 'vitest';
import {
  parseRequestHead,
  type RequestHead,
  type RequestHeadResult,
} from '../../../../src/proxy/http1/request-head.js';

// The fast path's request-head parser: plain heads are read exactly; everything else is
// "unusual" (handed to node:http) and never guessed at.

const LIMIT = 16 * 1024;

function parse(text: string, start = 0): RequestHeadResult {
  return parseRequestHead(Buffer.from(text, 'latin1'), start, LIMIT);
}

function head(text: string): RequestHead {
  const result = parse(text);
  if (result.kind !== 'head') throw new Error(`expected a head, got ${JSON.stringify(result)}`);
  return result.head;
}

function reason(text: string): string {
  const result = parse(text);
  if (result.kind !== 'unusual') throw new Error(`expected unusual, got ${JSON.stringify(result)}`);
  return result.reason;
}

describe('parseRequestHead: plain heads', () => {
  it('reads the request line, Host, Content-Length and the head length', () => {
    const text =
      'POST /a/b?c=d HTTP/1.1\r\nHost: app.test:8080\r\nContent-Length: 12\r\nX-Custom: yes\r\n\r\nhello world!';
    const parsed = head(text);
    expect(parsed).toMatchObject({
      method: 'POST',
      target: '/a/b?c=d',
      host: 'app.test:8080',
      contentLength: 12,
      close: false,
    });
    expect(parsed.length).toBe(text.indexOf('hello'));
    expect(parsed.forwardable).toBe(
      'POST /a/b?c=d HTTP/1.1\r\nHost: app.test:8080\r\nContent-Length: 12\r\nX-Custom: yes\r\n',
    );
  });

  it('parses from an offset (the next pipelined request)', () => {
    const first = 'GET /1 HTTP/1.1\r\nHost: a\r\n\r\n';
    const result = parse(`${first}GET /2 HTTP/1.1\r\nHost: a\r\n\r\n`, first.length);
    expect(result.kind === 'head' && result.head.target).toBe('/2');
  });

  it('trims optional whitespace around values and keeps obs-text bytes', () => {
    const parsed = head('GET / HTTP/1.1\r\nHost:   app.test \t\r\nX-Name: caf\xe9\r\n\r\n');
    expect(parsed.host).toBe('app.test');
    expect(parsed.forwardable).toContain('X-Name: caf\xe9\r\n');
  });

  it('notes Connection: close and drops hop-by-hop headers, including those Connection names', () => {
    const parsed = head(
      'GET / HTTP/1.1\r\nHost: a\r\nConnection: close, X-Private\r\nX-Private: secret\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n' +
        'Proxy-Authorization: Basic x\r\nProxy-Connection: keep-alive\r\nTrailer: x\r\nX-Kept: 1\r\n\r\n',
    );
    expect(parsed.close).toBe(true);
    expect(parsed.forwardable).toBe('GET / HTTP/1.1\r\nHost: a\r\nX-Kept: 1\r\n');
  });

  // framing-policy.ts: the body is read by this Content-Length, so the app must get it too,
  // or the body would be read upstream as a second request.
  it('drops the headers it sets when spelled with underscores (CGI reads them as the real ones), and keeps other underscores', () => {
    const parsed = head(
      'GET / HTTP/1.1\r\nHost: a\r\nX_Forwarded_For: 6.6.6.6\r\nx-forwarded_host: evil\r\nX_Request_Id: forged\r\nX_Other: 1\r\n\r\n',
    );
    expect(parsed.forwardable).toBe('GET / HTTP/1.1\r\nHost: a\r\nX_Other: 1\r\n');
    expect(parsed.priorFor).toBeUndefined();
  });

  it('keeps Content-Length and Host however Connection names them, and drops what else it names', () => {
    const parsed = head(
      'POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length, host, keep-alive, X-Private\r\nX-Private: 1\r\nContent-Length: 3\r\n\r\nabc',
    );
    expect(parsed).toMatchObject({ contentLength: 3, host: 'a', close: false });
    expect(parsed.forwardable).toBe('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n');
  });

  it('still sends a request with Transfer-Encoding to node:http, named in Connection or not', () => {
    expect(
      reason('POST / HTTP/1.1\r\nHost: a\r\nConnection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n'),
    ).toBe('Transfer-Encoding on a request');
  });

  it('takes the X-Forwarded-* the client sent aside, several joined, and leaves them out of the head', () => {
    const parsed = head(
      'GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 1.1.1.1\r\nx-forwarded-for: 2.2.2.2\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: pub\r\n\r\n',
    );
    expect(parsed).toMatchObject({ priorFor: '1.1.1.1, 2.2.2.2', priorProto: 'https', priorHost: 'pub' });
    expect(parsed.forwardable).toBe('GET / HTTP/1.1\r\nHost: a\r\n');
  });

  it("takes the client's X-Request-Id aside: the proxy sets the one forwarded", () => {
    const parsed = head('GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: abc\r\nx-request-id: def\r\n\r\n');
    expect(parsed.priorRequestId).toBe('abc, def');
    expect(parsed.forwardable).toBe('GET / HTTP/1.1\r\nHost: a\r\n');
  });

  it('reports an incomplete head, and an oversized one as unusual', () => {
    expect(parse('GET / HTTP/1.1\r\nHost: a\r\n').kind).toBe('incomplete');
    expect(parse('GET / HTT').kind).toBe('incomplete');
    const big = `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(LIMIT)}\r\n\r\n`;
    expect(reason(big)).toBe('head too large');
    // Too large before its end has even arrived.
    expect(reason(big.slice(0, LIMIT + 10))).toBe('head too large');
  });
});

describe('parseRequestHead: hostile and unusual heads go to node:http', () => {
  const cases: [string, string][] = [
    [
      'Content-Length with Transfer-Encoding',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n',
    ],
    ['Transfer-Encoding alone', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['two equal Content-Lengths', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n'],
    ['two different Content-Lengths', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n'],
    ['a list as Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n'],
    ['a signed Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n'],
    ['a hex Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n'],
    ['a Content-Length with a leading zero', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 05\r\n\r\n'],
    [
      'a tab after the Content-Length digits (llhttp refuses it)',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\t\r\n\r\n',
    ],
    ['an empty Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n'],
    ['a Content-Length beyond exact numbers', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9999999999999999\r\n\r\n'],
    ['whitespace before the colon', 'GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n'],
    ['obs-fold', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n'],
    ['a bare LF line ending', 'GET / HTTP/1.1\r\nHost: a\nX-A: 1\r\n\r\n'],
    ['a bare CR in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r2\r\n\r\n'],
    ['a NUL in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\x002\r\n\r\n'],
    ['DEL in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\x7f\r\n\r\n'],
    ['a header without a colon', 'GET / HTTP/1.1\r\nHost: a\r\nX-A\r\n\r\n'],
    ['an empty header name', 'GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n'],
    ['a non-token byte in a name', 'GET / HTTP/1.1\r\nHost: a\r\nX(A): x\r\n\r\n'],
    ['no Host', 'GET / HTTP/1.1\r\nX-A: 1\r\n\r\n'],
    ['two Hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'],
    ['HTTP/1.0', 'GET / HTTP/1.0\r\nHost: a\r\n\r\n'],
    ['HTTP/2 preface-like version', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n'],
    ['a lower-case method', 'get / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['a method llhttp does not know', 'GPOST / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['a CONNECT with an origin-form target', 'CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['PRI, the HTTP/2 preface method', 'PRI / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['two spaces in the request line', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['an absolute-form target', 'GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['an asterisk target', 'OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['a CONNECT', 'CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['a CONNECT with an origin-form target', 'CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['a fragment in the target', 'GET /#x HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['a control byte in the target', 'GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['a non-ASCII byte in the target', 'GET /\xe9 HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['an Upgrade', 'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'],
    ['Connection: upgrade alone', 'GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n'],
    ['Expect', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n'],
    ['leading empty line', '\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n'],
    ['whitespace before the first header', 'GET / HTTP/1.1\r\n Host: a\r\n\r\n'],
  ];
  for (const [name, text] of cases) {
    it(`hands over ${name}`, () => {
      expect(parse(text).kind).toBe('unusual');
    });
  }

  it('hands over a head with more than 100 header lines', () => {
    const many = Array.from({ length: 101 }, (_, index) => `X-${index}: v\r\n`).join('');
    expect(reason(`GET / HTTP/1.1\r\nHost: a\r\n${many}\r\n`)).toBe('too many headers');
  });

  it('never reads a body byte as part of the head', () => {
    // What a smuggling attempt looks like once the head ends: the fast path sees 5 bytes of body.
    const text = 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n';
    const parsed = head(text);
    expect(parsed.contentLength).toBe(5);
    expect(parsed.length).toBe(text.indexOf('GET /admin'));
  });
});
