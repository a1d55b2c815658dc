import { describe, expect, it } from 'vitest';
import { respond, serializeAnswer, type ProxyAnswer } from '../../../src/proxy/responses.js';

// The proxy's own answers as the fast path writes them: framed by the policy of
// framing-policy.ts (HEAD, 1xx, 204 and 304 carry no body bytes).

function text(value: ProxyAnswer, method: string, close = false): string {
  return serializeAnswer(value, close, method).toString('latin1');
}

describe('serializeAnswer', () => {
  it('writes the body after the head for a GET, framed by its Content-Length', () => {
    const answer = respond.unknownHost('nobody.test');
    const written = text(answer, 'GET');
    expect(written).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
    expect(written).toContain(`content-length: ${Buffer.byteLength(answer.body)}\r\n`);
    expect(written.endsWith(`\r\n\r\n${answer.body}`)).toBe(true);
  });

  it('gives HEAD the Content-Length a GET would get and not one body byte', () => {
    const answer = respond.startupTimeout('web', 2_000);
    const written = text(answer, 'HEAD');
    expect(written).toContain(`content-length: ${Buffer.byteLength(answer.body)}\r\n`);
    expect(written).toContain('retry-after: 5\r\n');
    expect(written.endsWith('\r\n\r\n')).toBe(true);
    expect(written.indexOf('\r\n\r\n')).toBe(written.length - 4);
  });

  it('writes neither a body nor a Content-Length for 204, and no body for 304', () => {
    const noContent = text({ status: 204, body: 'ignored', headers: {}, close: false }, 'GET');
    expect(noContent).not.toContain('content-length');
    expect(noContent.endsWith('\r\n\r\n')).toBe(true);
    expect(text({ status: 304, body: 'ignored', headers: {}, close: false }, 'GET').endsWith('\r\n\r\n')).toBe(true);
  });

  it('says connection: close once, when asked by the answer or by the connection', () => {
    expect(text(respond.shuttingDown(), 'GET', true).match(/connection: close/g)).toHaveLength(1);
    expect(text(respond.health(), 'GET', true)).toContain('connection: close\r\n');
    expect(text(respond.health(), 'GET')).not.toContain('connection');
  });
});
