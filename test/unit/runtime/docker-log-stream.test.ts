import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  decodedLogStream,
  DockerLogDecoder,
  dockerSince,
  MAX_LINE_BYTES,
} from '../../../src/runtime/docker-log-stream.js';
import type { LogLine } from '../../../src/runtime/runtime.js';

// Docker's multiplexed log format, byte by byte: frames cut anywhere by the transport,
// stdout and stderr interleaved, long lines split into several messages, timestamps.

const T1 = '2026-01-02T03:04:05.000000001Z';
const T2 = '2026-01-02T03:04:05.000000002Z';
const T3 = '2026-01-02T03:04:06.123456789Z';

/** One frame as Docker writes it: stream type, three zero bytes, big-endian length, payload. */
function frame(stream: 1 | 2, payload: string | Buffer): Buffer {
  const body = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(body.length, 4);
  return Buffer.concat([header, body]);
}

function message(stream: 1 | 2, time: string, text: string): Buffer {
  return frame(stream, `${time} ${text}`);
}

function decodeAll(chunks: Buffer[]): LogLine[] {
  const decoder = new DockerLogDecoder(() => new Date(0));
  return [...chunks.flatMap((chunk) => decoder.push(chunk)), ...decoder.end()];
}

describe('DockerLogDecoder', () => {
  const bytes = Buffer.concat([
    message(1, T1, 'first out\n'),
    message(2, T2, 'an error\n'),
    message(1, T3, 'second out\n'),
  ]);
  const expected: LogLine[] = [
    { stream: 'stdout', time: T1, line: 'first out' },
    { stream: 'stderr', time: T2, line: 'an error' },
    { stream: 'stdout', time: T3, line: 'second out' },
  ];

  it('demultiplexes stdout and stderr in the order they were written, with their timestamps', () => {
    expect(decodeAll([bytes])).toEqual(expected);
  });

  it('gives the same lines however the transport cuts the bytes (every cut point, and byte by byte)', () => {
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(decodeAll([bytes.subarray(0, cut), bytes.subarray(cut)]), `cut at ${cut}`).toEqual(expected);
    }
    expect(decodeAll([...bytes].map((byte) => Buffer.from([byte])))).toEqual(expected);
  });

  it('returns nothing until a frame is complete', () => {
    const decoder = new DockerLogDecoder();
    expect(decoder.push(bytes.subarray(0, 5))).toEqual([]);
    expect(decoder.push(bytes.subarray(5, 12))).toEqual([]);
    expect(decoder.push(bytes.subarray(12))).toEqual(expected);
  });

  it('joins a long line Docker split into several messages, stamped with the time it started', () => {
    // Docker cuts lines longer than 16 KiB into "partial" messages, each with its own timestamp.
    const lines = decodeAll([
      message(1, T1, 'a'.repeat(16_384)),
      message(1, T2, 'b'.repeat(100)),
      message(1, T3, 'c\n'),
    ]);
    expect(lines).toEqual([{ stream: 'stdout', time: T1, line: `${'a'.repeat(16_384)}${'b'.repeat(100)}c` }]);
  });

  it('keeps a line of one stream whole while the other stream writes in between', () => {
    const lines = decodeAll([message(1, T1, 'half of '), message(2, T2, 'an error\n'), message(1, T3, 'a line\n')]);
    expect(lines).toEqual([
      { stream: 'stderr', time: T2, line: 'an error' },
      { stream: 'stdout', time: T1, line: 'half of a line' },
    ]);
  });

  it('splits a message that holds several lines, keeps blank lines and drops the \\r of CRLF', () => {
    expect(decodeAll([message(1, T1, 'one\r\n\ntwo\n')])).toEqual([
      { stream: 'stdout', time: T1, line: 'one' },
      { stream: 'stdout', time: T1, line: '' },
      { stream: 'stdout', time: T1, line: 'two' },
    ]);
  });

  it('decodes a UTF-8 character cut between two messages', () => {
    const text = Buffer.from('café ☕\n');
    const cut = text.indexOf(Buffer.from('☕')) + 1;
    const lines = decodeAll([
      frame(1, Buffer.concat([Buffer.from(`${T1} `), text.subarray(0, cut)])),
      frame(1, Buffer.concat([Buffer.from(`${T2} `), text.subarray(cut)])),
    ]);
    expect(lines).toEqual([{ stream: 'stdout', time: T1, line: 'café ☕' }]);
  });

  it('ends with what was written without a final newline', () => {
    expect(decodeAll([message(1, T1, 'done\n'), message(2, T2, 'no newline')])).toEqual([
      { stream: 'stdout', time: T1, line: 'done' },
      { stream: 'stderr', time: T2, line: 'no newline' },
    ]);
  });

  it('stamps a message without a timestamp with the decoder clock, and keeps its text whole', () => {
    expect(decodeAll([frame(1, 'plain text here\n')])).toEqual([
      { stream: 'stdout', time: new Date(0).toISOString(), line: 'plain text here' },
    ]);
  });

  it('accepts timestamps with an offset, and only a timestamp as the first word', () => {
    expect(decodeAll([frame(1, '2026-01-02T03:04:05+02:00 hi\n'), frame(1, 'hello 2026-01-02T03:04:05Z\n')])).toEqual([
      { stream: 'stdout', time: '2026-01-02T03:04:05+02:00', line: 'hi' },
      { stream: 'stdout', time: new Date(0).toISOString(), line: 'hello 2026-01-02T03:04:05Z' },
    ]);
  });

  it('cuts a line that never ends instead of holding it forever', () => {
    const lines = decodeAll([message(1, T1, 'x'.repeat(MAX_LINE_BYTES)), message(1, T2, 'rest\n')]);
    expect(lines.map((line) => line.line.length)).toEqual([MAX_LINE_BYTES, 4]);
    expect(lines[1]).toEqual({ stream: 'stdout', time: T2, line: 'rest' });
  });
});

describe('decodedLogStream', () => {
  it('yields the lines of a byte stream and ends with it', async () => {
    const stream = decodedLogStream(Readable.from([message(1, T1, 'a\nb'), message(1, T2, 'c\n')]));
    const lines: LogLine[] = [];
    for await (const line of stream) lines.push(line);
    expect(lines.map((line) => line.line)).toEqual(['a', 'bc']);
  });

  it('close() ends a waiting iteration quietly and destroys the engine stream', async () => {
    const source = new PassThrough();
    const stream = decodedLogStream(source);
    const seen: string[] = [];
    const reading = (async () => {
      for await (const line of stream) seen.push(line.line);
    })();
    source.write(message(1, T1, 'before close\n'));
    await new Promise((resolve) => setImmediate(resolve));
    stream.close();
    await expect(reading).resolves.toBeUndefined();
    expect(seen).toEqual(['before close']);
    expect(source.destroyed).toBe(true);
  });

  it('a reader that stops early destroys the engine stream', async () => {
    const source = new PassThrough();
    const stream = decodedLogStream(source);
    source.write(Buffer.concat([message(1, T1, 'one\n'), message(1, T2, 'two\n')]));
    for await (const line of stream) {
      expect(line.line).toBe('one');
      break;
    }
    expect(source.destroyed).toBe(true);
  });

  it('passes on a failure of the engine stream it did not cause', async () => {
    const source = new PassThrough();
    const stream = decodedLogStream(source);
    const reading = (async () => {
      for await (const _line of stream) void _line;
    })();
    source.destroy(new Error('socket hang up'));
    await expect(reading).rejects.toThrow('socket hang up');
  });
});

describe('dockerSince', () => {
  it('turns RFC 3339 into seconds.nanoseconds, keeping every digit of the fraction', () => {
    expect(dockerSince('2026-01-02T03:04:05.123456789Z')).toBe(`${Date.UTC(2026, 0, 2, 3, 4, 5) / 1000}.123456789`);
    expect(dockerSince('2026-01-02T03:04:05Z')).toBe(`${Date.UTC(2026, 0, 2, 3, 4, 5) / 1000}.000000000`);
    expect(dockerSince('2026-01-02T05:04:05.5+02:00')).toBe(`${Date.UTC(2026, 0, 2, 3, 4, 5) / 1000}.500000000`);
  });

  it('refuses what is not RFC 3339', () => {
    expect(() => dockerSince('yesterday')).toThrow('not an RFC 3339 time: "yesterday"');
  });
});
