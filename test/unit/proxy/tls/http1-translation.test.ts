import { describe, expect, it } from 'vitest';
import { parseResponseHead, type ResponseHead } from '../../../../src/proxy/http1/response-head.js';
import { http1RequestHead, http2ResponseHeaders } from '../../../../src/proxy/tls/http1-translation.js';

function parsed(text: string): { head: ResponseHead; buffer: Buffer } {
  const buffer = Buffer.from(text, 'latin1');
  const result = parseResponseHead(buffer, 0, 'GET', 64 * 1024);
  if (result.kind !== 'head') throw new Error(`not a head: ${result.kind}`);
  return { head: result.head, buffer };
}

describe('http1RequestHead', () => {
  it('writes the request line, each value of a repeated header on its own line, and chunked framing when asked', () => {
    expect(http1RequestHead('POST', '/a?b=1', { host: 'app.test', accept: ['a/b', 'c/d'] }, true)).toBe(
      'POST /a?b=1 HTTP/1.1\r\nhost: app.test\r\naccept: a/b\r\naccept: c/d\r\ntransfer-encoding: chunked\r\n\r\n',
    );
  });

  it('refuses a path or a value that would write another line, and CONNECT', () => {
    expect(http1RequestHead('GET', '/a b', {}, false)).toBeUndefined();
    expect(http1RequestHead('GET', '/a\r\nx: y', {}, false)).toBeUndefined();
    expect(http1RequestHead('GET', '/', { 'x-a': 'one\r\nx-b: two' }, false)).toBeUndefined();
    expect(http1RequestHead('GET', '/', { 'x-a': ['ok', 'bad\n'] }, false)).toBeUndefined();
    expect(http1RequestHead('GET', '/', { 'x-a': 'nul\u0000' }, false)).toBeUndefined();
    expect(http1RequestHead('CONNECT', '/', {}, false)).toBeUndefined();
    expect(http1RequestHead('GET', '', {}, false)).toBeUndefined();
  });
});

describe('http2ResponseHeaders', () => {
  it('lower-cases names, trims values, makes repeated headers arrays and leaves out framing and hop-by-hop headers', () => {
    const { head, buffer } = parsed(
      'HTTP/1.1 201 Created\r\nContent-Type: text/plain \r\nSet-Cookie: a=1\r\nConnection: keep-alive, x-hop\r\n' +
        'X-Hop: gone\r\nSet-Cookie:b=2\r\nTransfer-Encoding: chunked\r\nKeep-Alive: timeout=5\r\n\r\n',
    );
    expect(http2ResponseHeaders(head, buffer)).toEqual({
      ':status': 201,
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
    });
  });

  it('keeps Content-Length, and reads a head with no header at all', () => {
    const withLength = parsed('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello');
    expect(http2ResponseHeaders(withLength.head, withLength.buffer)).toEqual({ ':status': 200, 'content-length': '5' });
    const bare = parsed('HTTP/1.1 204 No Content\r\n\r\n');
    expect(http2ResponseHeaders(bare.head, bare.buffer)).toEqual({ ':status': 204 });
  });
});
