import { StringDecoder } from 'node:string_decoder';
import type { ContainerLogStream, LogLine, LogStreamName } from './runtime.js';

// Docker's log wire format, without dockerode, so it can be tested byte by byte.
//
// A container without a TTY has its stdout and stderr multiplexed into one byte stream of
// frames: an 8-byte header (stream type, three zero bytes, big-endian payload length) and
// the payload. Asked for timestamps, Docker starts each log message (one frame) with an
// RFC 3339 time and a space. A line longer than 16 KiB arrives as several messages, and
// frames are cut anywhere by the HTTP transport, so lines are assembled per stream here.
// (docker-modem's demuxStream splits into two streams and loses the order between them.)

const HEADER_BYTES = 8;
/** A line that never ends is cut here rather than held in memory forever. */
export const MAX_LINE_BYTES = 64 * 1024;
/** Docker writes RFC3339Nano; the space after it ends the timestamp. */
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;
const LONGEST_TIMESTAMP = 40;
const SPACE = 0x20;

interface PendingLine {
  decoder: StringDecoder;
  text: string;
  /** Time of the message the line started in. */
  time: string | undefined;
}

export class DockerLogDecoder {
  private buffered: Buffer = Buffer.alloc(0);
  private readonly pending: Record<LogStreamName, PendingLine> = {
    stdout: { decoder: new StringDecoder('utf8'), text: '', time: undefined },
    stderr: { decoder: new StringDecoder('utf8'), text: '', time: undefined },
  };

  /** @param now stamps a message that came without a timestamp (never, when asked for them). */
  constructor(private readonly now: () => Date = () => new Date()) {}

  /** Feeds bytes as they arrive; returns the lines they completed. */
  push(chunk: Buffer): LogLine[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const lines: LogLine[] = [];
    let offset = 0;
    while (this.buffered.length - offset >= HEADER_BYTES) {
      const size = this.buffered.readUInt32BE(offset + 4);
      if (this.buffered.length - offset - HEADER_BYTES < size) break;
      const type = this.buffered[offset] ?? 1;
      const payload = this.buffered.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + size);
      // 0 is stdin echoed on stdout; 3 is the engine's own error, shown where errors go.
      this.message(type === 2 || type === 3 ? 'stderr' : 'stdout', payload, lines);
      offset += HEADER_BYTES + size;
    }
    this.buffered = this.buffered.subarray(offset);
    return lines;
  }

  /** The stream ended: whatever was written without a final newline is a line too. */
  end(): LogLine[] {
    const lines: LogLine[] = [];
    for (const stream of ['stdout', 'stderr'] as const) {
      const pending = this.pending[stream];
      pending.text += pending.decoder.end();
      if (pending.text !== '') this.emit(stream, lines);
    }
    return lines;
  }

  private message(stream: LogStreamName, payload: Buffer, lines: LogLine[]): void {
    const pending = this.pending[stream];
    let body = payload;
    let time: string | undefined;
    const space = payload.subarray(0, LONGEST_TIMESTAMP + 1).indexOf(SPACE);
    if (space > 0) {
      const candidate = payload.subarray(0, space).toString('latin1');
      if (TIMESTAMP.test(candidate)) {
        time = candidate;
        body = payload.subarray(space + 1);
      }
    }
    const messageTime = time ?? this.now().toISOString();
    if (pending.text === '') pending.time = messageTime;
    let text = pending.text + pending.decoder.write(body);
    let newline: number;
    while ((newline = text.indexOf('\n')) >= 0) {
      pending.text = text.slice(0, newline);
      this.emit(stream, lines);
      text = text.slice(newline + 1);
      pending.time = messageTime;
    }
    pending.text = text;
    if (Buffer.byteLength(pending.text) >= MAX_LINE_BYTES) this.emit(stream, lines);
  }

  private emit(stream: LogStreamName, lines: LogLine[]): void {
    const pending = this.pending[stream];
    const line = pending.text.endsWith('\r') ? pending.text.slice(0, -1) : pending.text;
    lines.push({ stream, time: pending.time ?? this.now().toISOString(), line });
    pending.text = '';
    pending.time = undefined;
  }
}

/** The engine's byte stream as lines; close() destroys the stream, which ends Docker's follow. */
export function decodedLogStream(source: AsyncIterable<unknown> & { destroy(): unknown }): ContainerLogStream {
  let closed = false;
  return {
    close() {
      closed = true;
      source.destroy();
    },
    async *[Symbol.asyncIterator]() {
      const decoder = new DockerLogDecoder();
      try {
        for await (const chunk of source)
          yield* decoder.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
        yield* decoder.end();
      } catch (error) {
        // Destroying the stream on purpose makes the iteration fail: that is the end we asked for.
        if (!closed) throw error;
      } finally {
        source.destroy();
      }
    },
  };
}

/** RFC 3339 (any fraction, any offset) → the `seconds.nanoseconds` form Docker's `since` takes. */
export function dockerSince(rfc3339: string): string {
  const match = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i.exec(rfc3339);
  const seconds = match ? Date.parse(`${match[1]}${match[3]}`) / 1000 : Number.NaN;
  if (!match || !Number.isFinite(seconds)) throw new RangeError(`not an RFC 3339 time: "${rfc3339}"`);
  const nanos = (match[2] ?? '').slice(0, 9).padEnd(9, '0');
  return `${seconds}.${nanos}`;
}
