import { describe, expect, it } from 'vitest';
import { acceptsTrailers, h2cRequestHeaders, passedOn, trailersOf } from '../../../../src/proxy/h2c/headers.js';

describe('h2c header rules', () => {
  it('reads TE for trailers among other codings and parameters', () => {
    expect(acceptsTrailers('trailers')).toBe(true);
    expect(acceptsTrailers('gzip;q=0.5, Trailers')).toBe(true);
    expect(acceptsTrailers(['deflate', 'trailers;q=1'])).toBe(true);
    expect(acceptsTrailers('gzip')).toBe(false);
    expect(acceptsTrailers(undefined)).toBe(false);
  });

  it('writes the pseudo-headers, :authority for Host, and no connection-specific header', () => {
    const headers = h2cRequestHeaders({
      method: 'POST',
      path: '/svc/Method?x=1',
      authority: 'grpc.test',
      headers: { host: 'grpc.test', connection: 'keep-alive', upgrade: 'h2c', 'content-type': 'application/grpc' },
      te: 'gzip, trailers',
    });
    expect(headers).toEqual({
      ':method': 'POST',
      ':path': '/svc/Method?x=1',
      ':scheme': 'http',
      ':authority': 'grpc.test',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
  });

  it('passes response heads without pseudo- or hop-by-hop headers; trailers without framing, or none at all', () => {
    expect(passedOn({ ':status': '200', 'keep-alive': 'x', 'grpc-encoding': 'identity' })).toEqual({
      'grpc-encoding': 'identity',
    });
    expect(trailersOf({ 'grpc-status': '0', 'content-length': '5', host: 'h' })).toEqual({ 'grpc-status': '0' });
    expect(trailersOf({ 'content-length': '5' })).toBeUndefined();
    expect(trailersOf(undefined)).toBeUndefined();
  });
});
