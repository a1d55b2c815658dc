import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { connectionMayRemove, responseHasBody, statusAllowsContentLength } from '../../../src/proxy/framing-policy.js';
import { upstreamHeaders } from '../../../src/proxy/forwarder.js';
import { connectionNamed, rawWithoutHopByHop } from '../../../src/proxy/hop-by-hop.js';

// The framing policy and how the node:http path applies it (the fast path's parsers have
// their own tests in http1/): Content-Length, Transfer-Encoding and Host survive a
// Connection header naming them; nothing else it names does.

/** Just what upstreamHeaders reads of a request. */
function request(headers: Record<string, string>): IncomingMessage {
  return { headers, socket: { remoteAddress: '10.0.0.9' } } as unknown as IncomingMessage;
}

describe('framing policy', () => {
  it('lets Connection remove any header but Content-Length, Transfer-Encoding and Host', () => {
    for (const name of ['content-length', 'transfer-encoding', 'host'])
      expect(connectionMayRemove(name), name).toBe(false);
    for (const name of ['x-private', 'cookie', 'content-type', 'te'])
      expect(connectionMayRemove(name), name).toBe(true);
  });

  it('gives no body to HEAD answers and to 1xx, 204 and 304', () => {
    expect(responseHasBody('HEAD', 200)).toBe(false);
    for (const status of [100, 103, 204, 304]) expect(responseHasBody('GET', status), String(status)).toBe(false);
    for (const status of [200, 301, 404, 503]) expect(responseHasBody('GET', status), String(status)).toBe(true);
    expect([101, 204, 304, 200].map(statusAllowsContentLength)).toEqual([false, false, true, true]);
  });

  it('reads the headers Connection makes hop-by-hop, leaving the framing ones out', () => {
    expect([...connectionNamed(['close, Content-Length, X-A', ' host ,transfer-encoding,x-b'])]).toEqual([
      'close',
      'x-a',
      'x-b',
    ]);
  });
});

describe('the node:http path applies it', () => {
  it('keeps Content-Length and Host for the app when Connection names them', () => {
    const headers = upstreamHeaders(
      request({
        host: 'app.test',
        'content-length': '12',
        connection: 'content-length, host, x-private',
        'x-private': 'secret',
      }),
      false,
    );
    expect(headers).toMatchObject({ host: 'app.test', 'content-length': '12' });
    expect(headers['x-private']).toBeUndefined();
  });

  it('sets its own X-Forwarded-For and X-Request-Id whatever Connection names', () => {
    const headers = upstreamHeaders(
      request({
        host: 'app.test',
        connection: 'x-forwarded-for, x-request-id',
        'x-forwarded-for': '6.6.6.6',
        'x-request-id': 'given-id',
      }),
      false,
    );
    expect(headers).toMatchObject({ 'x-forwarded-for': '10.0.0.9', 'x-request-id': 'given-id' });
  });

  it('drops the proxy-set headers spelled with underscores, which CGI reads as the real ones', () => {
    const headers = upstreamHeaders(
      request({
        host: 'app.test',
        x_forwarded_for: '6.6.6.6',
        'x-forwarded_proto': 'https',
        x_request_id: 'forged',
        x_other: 'kept',
      }),
      false,
    );
    expect(headers).toMatchObject({ 'x-forwarded-for': '10.0.0.9', x_other: 'kept' });
    expect(
      Object.keys(headers).filter(
        (name) => name.startsWith('x_forwarded') || name.startsWith('x-forwarded_') || name === 'x_request_id',
      ),
    ).toEqual([]);
  });

  it("keeps a response's Content-Length named in its Connection header, and drops the rest it names", () => {
    const raw = [
      'Connection',
      'content-length, X-Internal',
      'Content-Length',
      '5',
      'X-Internal',
      'secret',
      'Set-Cookie',
      'a=1',
    ].map((text) => Buffer.from(text));
    expect(rawWithoutHopByHop(raw)).toEqual(['Content-Length', '5', 'Set-Cookie', 'a=1']);
  });
});
