import { describe, expect, it } from 'vitest';
import { ChunkedBodyScanner } from '../../../../src/proxy/http1/chunked-body.js';

// Where a chunked body ends, whatever way its bytes are split across reads.

function scanAll(text: string, splitEvery?: number): { consumed: number; done: boolean; invalid: boolean } {
  const scanner = new ChunkedBodyScanner();
  const bytes = Buffer.from(text, 'latin1');
  let consumed = 0;
  const step = splitEvery ?? bytes.length;
  for (let offset = 0; offset < bytes.length && !scanner.done; offset += step) {
    const piece = bytes.subarray(offset, offset + step);
    const taken = scanner.scan(piece);
    if (taken < 0) return { consumed, done: false, invalid: true };
    consumed += taken;
  }
  return { consumed, done: scanner.done, invalid: false };
}

describe('ChunkedBodyScanner', () => {
  const body = '5\r\nhello\r\n1A;name=value\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Trailer: t\r\n\r\n';

  it('finds the end of a body with extensions and trailers, and nothing beyond it', () => {
    expect(scanAll(`${body}HTTP/1.1 200 OK`)).toEqual({ consumed: body.length, done: true, invalid: false });
  });

  it('finds the same end whatever the bytes are split into', () => {
    for (const split of [1, 2, 3, 7, 16])
      expect(scanAll(body, split), `split every ${split}`).toEqual({
        consumed: body.length,
        done: true,
        invalid: false,
      });
  });

  it('is not done before the final blank line', () => {
    expect(scanAll('5\r\nhello\r\n0\r\n')).toEqual({ consumed: 13, done: false, invalid: false });
  });

  it('scans from an offset', () => {
    const scanner = new ChunkedBodyScanner();
    const bytes = Buffer.from('HEAD0\r\n\r\nNEXT', 'latin1');
    expect(scanner.scan(bytes, 4)).toBe(5);
    expect(scanner.done).toBe(true);
  });

  const invalid: [string, string][] = [
    ['a non-hex size', 'g\r\n'],
    ['an empty size', '\r\n'],
    ['a size of 13 hex digits', '1000000000000\r\n'],
    ['a space after the size', '5 \r\nhello\r\n'],
    ['a bare LF after the size', '5\nhello\r\n'],
    ['data longer than its size', '5\r\nhelloX\r\n'],
    ['a missing CRLF after data', '5\r\nhello0\r\n\r\n'],
    ['a control byte in an extension', '5;a\x01\r\nhello\r\n'],
    ['a trailer line starting with whitespace', '0\r\n X: y\r\n\r\n'],
    ['a bare LF ending the body', '0\r\n\n'],
    ['a negative size', '-5\r\nhello\r\n'],
  ];
  for (const [name, text] of invalid) {
    it(`refuses ${name}`, () => {
      expect(scanAll(text).invalid).toBe(true);
    });
  }
});
