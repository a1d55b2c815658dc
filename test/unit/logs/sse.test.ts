import { describe, expect, it } from 'vitest';
import { sseComment, sseEvent, SseParser } from '../../../src/logs/sse.js';

describe('server-sent events', () => {
  const stream = [
    sseComment('heartbeat'),
    sseEvent({ line: 'two\nlines', instance: 'web-a1b2c3' }),
    sseEvent({ message: 'waiting' }, 'notice'),
    sseEvent({ reason: 'complete' }, 'end'),
  ].join('');

  it('reads back what it writes, whatever the pieces it arrives in; comments are not events', () => {
    const expected = [
      { event: 'message', data: JSON.stringify({ line: 'two\nlines', instance: 'web-a1b2c3' }) },
      { event: 'notice', data: '{"message":"waiting"}' },
      { event: 'end', data: '{"reason":"complete"}' },
    ];
    for (let cut = 0; cut <= stream.length; cut++) {
      const parser = new SseParser();
      expect([...parser.push(stream.slice(0, cut)), ...parser.push(stream.slice(cut))], `cut at ${cut}`).toEqual(
        expected,
      );
    }
  });

  it('writes one data line per event, and comments on one line', () => {
    expect(sseEvent({ a: 'x\ny' }, 'end')).toBe('event: end\ndata: {"a":"x\\ny"}\n\n');
    expect(sseComment('two\nlines')).toBe(': two lines\n\n');
  });

  it('reads CRLF and CR line ends, joins data lines, and waits for the blank line that ends an event', () => {
    const parser = new SseParser();
    expect(parser.push('event: x\r\ndata: 1\rdata:2\r')).toEqual([]);
    expect(parser.push('\n\r\n')).toEqual([{ event: 'x', data: '1\n2' }]);
  });
});
