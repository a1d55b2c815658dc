import http, { type ServerResponse } from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sseOnResponse, TOO_SLOW, type SseStream } from '../../../src/api/sse-stream.js';
import { WATCH_ERROR_EVENT } from '../../../src/api/wire.js';
import { SseParser, sseEvent } from '../../../src/logs/sse.js';

// A watch stream whose reader stops reading: the server keeps at most the limit (plus the
// message that crossed it and the last one) in its buffers, then ends the stream with an
// ERROR event the reader gets if it reads on, and cuts the connection if it never does.

const LIMIT = 64 * 1024;
const PAYLOAD = { note: 'x'.repeat(1000) };
const EVENT_BYTES = Buffer.byteLength(sseEvent(PAYLOAD, 'event'));
const LAST_BYTES = Buffer.byteLength(sseEvent(TOO_SLOW, WATCH_ERROR_EVENT));

let server: http.Server | undefined;
let client: net.Socket | undefined;

afterEach(async () => {
  client?.destroy();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
});

/** A server with one stream on it, and a raw client that has sent its request and reads nothing. */
async function stalledReader(
  lastMessageGraceMs = 10_000,
): Promise<{ res: ServerResponse; stream: SseStream; client: net.Socket }> {
  let opened: (value: { res: ServerResponse; stream: SseStream }) => void = () => undefined;
  const ready = new Promise<{ res: ServerResponse; stream: SseStream }>((resolve) => (opened = resolve));
  server = http.createServer((_request, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    opened({
      res,
      stream: sseOnResponse(res, { heartbeatIntervalMs: 60_000, maxBufferedBytes: LIMIT, lastMessageGraceMs }),
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  client = net.connect(port, '127.0.0.1');
  client.pause();
  client.write('GET /watch HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n');
  return { ...(await ready), client };
}

/** Sends `count` events at once, as a burst of changes would; the largest user-space backlog seen. */
function burst(res: ServerResponse, stream: SseStream, count: number): number {
  let peak = 0;
  for (let i = 0; i < count; i++) {
    stream.send('event', PAYLOAD);
    peak = Math.max(peak, res.writableLength);
  }
  return peak;
}

function readAll(socket: net.Socket): Promise<string> {
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (text += chunk));
  socket.resume();
  return new Promise((resolve) => socket.once('end', () => resolve(text)));
}

describe('a watch stream whose reader stops reading', () => {
  it('keeps the server buffer bounded, then ends with a last ERROR message the reader gets', async () => {
    const { res, stream, client: reader } = await stalledReader();
    // 50 MB produced, far beyond what the kernel's socket buffers hold for a stalled reader.
    const peak = burst(res, stream, 50_000);
    expect(peak).toBeLessThanOrEqual(LIMIT + EVENT_BYTES + LAST_BYTES);
    expect(res.writableEnded).toBe(true);
    await stream.closed;

    const text = await readAll(reader);
    const body = text.slice(text.indexOf('\r\n\r\n') + 4);
    const messages = new SseParser().push(body.replace(/\r\n[0-9a-f]+\r\n/g, ''));
    const last = messages.at(-1);
    expect(last?.event).toBe(WATCH_ERROR_EVENT);
    expect(JSON.parse(last?.data ?? '{}')).toEqual({
      reason: 'TooSlow',
      message: 'the client reads too slowly: the watch was stopped; watch again to get the present state',
    });
    // Far fewer events reached the reader than were produced: the rest were never held.
    expect(messages.length).toBeLessThan(50_000 / 4);
  });

  it('cuts the connection when the last message cannot go out within its grace period', async () => {
    const { res, stream } = await stalledReader(100);
    burst(res, stream, 50_000);
    const socket = res.socket;
    expect(socket?.destroyed).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(socket?.destroyed).toBe(true);
  });

  it('leaves a reader that keeps up alone', async () => {
    const { res, stream, client: reader } = await stalledReader();
    const received = readAll(reader);
    for (let i = 0; i < 200; i++) {
      stream.send('event', PAYLOAD);
      // A reader that keeps up drains the buffer between bursts.
      if (res.writableLength > LIMIT / 2) await new Promise((resolve) => res.once('drain', resolve));
    }
    expect(res.writableEnded).toBe(false);
    stream.end();
    const text = await received;
    expect(text).not.toContain(WATCH_ERROR_EVENT);
    expect(text.split('event: event').length - 1).toBe(200);
  });
});
