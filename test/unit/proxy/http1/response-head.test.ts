import { describe, expect, it } from 'vitest';
import {
  forwardableText,
  parseResponseHead,
  type ResponseHead,
  type ResponseHeadResult,
} from '../../../../src/proxy/http1/response-head.js';

// The fast path's response-head parser: where each response ends, whether the upstream
// connection can be kept, and what the client gets of the head.

const LIMIT = 64 * 1024;

function parse(text: string, method = 'GET'): ResponseHeadResult {
  return parseResponseHead(Buffer.from(text, 'latin1'), 0, method, LIMIT);
}

function head(text: string, method = 'GET'): ResponseHead & { forwardable: string } {
  const result = parse(text, method);
  if (result.kind !== 'head') throw new Error(`expected a head, got ${JSON.stringify(result)}`);
  // What the client gets of the head, as text.
  return { ...result.head, forwardable: forwardableText(result.head, Buffer.from(text, 'latin1')) };
}

describe('parseResponseHead: framing', () => {
  it('frames by Content-Length and keeps a keep-alive connection', () => {
    const parsed = head(
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\nok\n',
    );
    expect(parsed).toMatchObject({
      status: 200,
      informational: false,
      framing: { kind: 'length', length: 3 },
      reusable: true,
      keepAliveSeconds: 5,
    });
    expect(parsed.forwardable).toBe('HTTP/1.1 200 OK\r\nContent-Length: 3\r\n');
    expect(parsed.length).toBe(
      parsed.forwardable.length + 'Connection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n'.length,
    );
  });

  it('frames chunked bodies and passes Transfer-Encoding on (the body is relayed as sent)', () => {
    const parsed = head('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    expect(parsed.framing).toEqual({ kind: 'chunked' });
    expect(parsed.forwardable).toContain('Transfer-Encoding: chunked\r\n');
  });

  it('reads until close without length or chunked, and does not reuse that connection', () => {
    expect(head('HTTP/1.1 200 OK\r\nX-A: 1\r\n\r\n')).toMatchObject({ framing: { kind: 'close' }, reusable: false });
    expect(head('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n')).toMatchObject({
      framing: { kind: 'close' },
      reusable: false,
    });
  });

  it('gives HEAD answers, 204 and 304 no body whatever their headers say', () => {
    expect(head('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n', 'HEAD').framing).toEqual({ kind: 'none' });
    expect(head('HTTP/1.1 204 No Content\r\n\r\n').framing).toEqual({ kind: 'none' });
    expect(head('HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n').framing).toEqual({ kind: 'none' });
    expect(head('HTTP/1.1 204 No Content\r\n\r\n').reusable).toBe(true);
  });

  it('marks 1xx heads informational (another head follows)', () => {
    const parsed = head('HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n');
    expect(parsed).toMatchObject({ status: 103, informational: true, framing: { kind: 'none' } });
  });

  it('does not reuse a connection the target closes or an HTTP/1.0 one', () => {
    expect(head('HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n').reusable).toBe(false);
    const old = head('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n');
    expect(old.reusable).toBe(false);
    // The client always gets HTTP/1.1 from the proxy.
    expect(old.forwardable.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
  });

  it('strips hop-by-hop headers and those Connection names, but never the framing ones', () => {
    const parsed = head(
      'HTTP/1.1 200 OK\r\nConnection: x-internal, content-length\r\nX-Internal: secret\r\nProxy-Authenticate: Basic\r\nUpgrade: h2c\r\nTrailer: X-T\r\nContent-Length: 2\r\nX-Kept: yes\r\n\r\n',
    );
    expect(parsed.forwardable).toBe('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Kept: yes\r\n');
  });

  it('frames by a Transfer-Encoding the Connection header names, and passes it on', () => {
    const parsed = head(
      'HTTP/1.1 200 OK\r\nConnection: transfer-encoding, keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    expect(parsed.framing).toEqual({ kind: 'chunked' });
    expect(parsed.reusable).toBe(true);
    expect(parsed.forwardable).toBe('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n');
  });

  it('accepts an empty reason phrase, with or without its space', () => {
    expect(head('HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n').status).toBe(200);
    expect(head('HTTP/1.1 599\r\nContent-Length: 0\r\n\r\n').status).toBe(599);
  });

  it('reports an incomplete head', () => {
    expect(parse('HTTP/1.1 200 OK\r\nContent-Len').kind).toBe('incomplete');
  });
});

describe('parseResponseHead: malformed or ambiguous responses are invalid (502)', () => {
  const cases: [string, string][] = [
    [
      'Content-Length with Transfer-Encoding',
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
    ],
    ['two Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n'],
    ['a tab after the Content-Length digits (llhttp refuses it)', 'HTTP/1.1 200 OK\r\nContent-Length: 3\t\r\n\r\n'],
    ['a non-numeric Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 3a\r\n\r\n'],
    ['chunked not last', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n'],
    ['Transfer-Encoding in HTTP/1.0', 'HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['an unknown version', 'HTTP/2 200 OK\r\n\r\n'],
    ['a short status code', 'HTTP/1.1 20 OK\r\n\r\n'],
    ['a status below 100', 'HTTP/1.1 099 OK\r\n\r\n'],
    ['a letter in the status', 'HTTP/1.1 2x0 OK\r\n\r\n'],
    ['a bare LF', 'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n'],
    ['a NUL in a value', 'HTTP/1.1 200 OK\r\nX-A: a\x00b\r\nContent-Length: 0\r\n\r\n'],
    ['obs-fold', 'HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 0\r\n\r\n'],
    ['a 101 nobody asked for', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n'],
  ];
  for (const [name, text] of cases) {
    it(`refuses ${name}`, () => {
      expect(parse(text).kind).toBe('invalid');
    });
  }

  it('refuses a head over the limit', () => {
    const result = parseResponseHead(
      Buffer.from(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(200)}\r\n\r\n`),
      0,
      'GET',
      100,
    );
    expect(result.kind).toBe('invalid');
  });
});

describe('parseResponseHead: the Keep-Alive hint', () => {
  const hint = (value: string): number | undefined =>
    head(`HTTP/1.1 200 OK\r\nContent-Length: 0\r\nKeep-Alive: ${value}\r\n\r\n`).keepAliveSeconds;
  it('reads timeout=N wherever it stands', () => {
    expect(hint('timeout=5')).toBe(5);
    expect(hint('max=100, timeout=120')).toBe(120);
    expect(hint('Timeout=7,max=3')).toBe(7);
  });
  it('ignores what is not a timeout', () => {
    expect(hint('max=100')).toBeUndefined();
    expect(hint('xtimeout=5')).toBeUndefined();
    expect(hint('timeout=')).toBeUndefined();
    expect(hint('timeout=1234567')).toBeUndefined();
  });
});
