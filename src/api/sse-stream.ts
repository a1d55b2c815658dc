import type { FastifyReply } from 'fastify';
import { sseComment, sseEvent } from '../logs/sse.js';

// A server-sent event stream on a hijacked reply, for the watch streams (objects and
// events). Heartbeat comments keep idle proxies from cutting a quiet stream; `onClose`
// runs once, whoever ends it.

export interface SseStream {
  send(event: string, data: unknown): void;
  /** Resolves when the client has gone (or end() was called). */
  closed: Promise<void>;
  end(): void;
}

export function openSseStream(reply: FastifyReply, heartbeatIntervalMs: number): SseStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
  // The first bytes tell the client the stream is open before any event happens.
  res.write(sseComment('watching'));
  const heartbeat = setInterval(() => res.write(sseComment('heartbeat')), heartbeatIntervalMs);
  heartbeat.unref();
  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  res.on('close', () => {
    clearInterval(heartbeat);
    resolveClosed();
  });
  return {
    send: (event, data) => {
      if (!res.writableEnded) res.write(sseEvent(data, event));
    },
    closed,
    end: () => {
      clearInterval(heartbeat);
      if (!res.writableEnded) res.end();
      resolveClosed();
    },
  };
}
