import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { chunkedEncoder, refusalHead } from '../../../src/proxy/refused-upgrade.js';

// An upgrade the app refused is relayed with one framing and one Connection header:
// its own Content-Length when it sent one, chunked again when it did not.

describe('refusalHead', () => {
  it("drops the app's Transfer-Encoding and Connection, chunks anew and says close once", () => {
    const { head, chunked } = refusalHead('GET', 403, 'Forbidden', [
      'Connection',
      'keep-alive, X-Internal',
      'Transfer-Encoding',
      'chunked',
      'X-Internal',
      '1',
      'Content-Type',
      'text/plain',
    ]);
    expect(chunked).toBe(true);
    expect(head).toBe(
      'HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n',
    );
  });

  it("keeps the app's Content-Length, even named in Connection, and does not chunk", () => {
    const { head, chunked } = refusalHead('GET', 400, undefined, [
      'Connection',
      'content-length',
      'Content-Length',
      '7',
      'Upgrade',
      'websocket',
    ]);
    expect(chunked).toBe(false);
    expect(head).toBe('HTTP/1.1 400 Bad Request\r\nContent-Length: 7\r\nconnection: close\r\n\r\n');
  });

  it('frames nothing for answers without a body', () => {
    expect(refusalHead('GET', 204, 'No Content', []).chunked).toBe(false);
    expect(refusalHead('HEAD', 403, 'Forbidden', []).head).not.toContain('transfer-encoding');
  });
});

describe('chunkedEncoder', () => {
  it('writes each piece as a chunk, skips empty ones and ends with the last chunk', async () => {
    const encoded = await text(
      Readable.from([Buffer.from('no '), Buffer.alloc(0), Buffer.from('way, really\n')]).pipe(chunkedEncoder()),
    );
    expect(encoded).toBe('3\r\nno \r\nc\r\nway, really\n\r\n0\r\n\r\n');
  });
});
