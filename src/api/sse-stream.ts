import type { ServerResponse } from 'node:http';
import type { FastifyReply } from 'fastify';
import { sseComment, sseEvent } from '../logs/sse.js';
import { WATCH_ERROR_EVENT, type WatchError } from './wire.js';

// A server-sent event stream on a hijacked reply, for the watch streams (objects and
// events). Heartbeat comments keep idle proxies from cutting a quiet stream; `onClose`
// runs once, whoever ends it.
//
// A reader that stops reading must not make the server hold every change in memory: once
// more than `maxBufferedBytes` wait unsent (in Node and the socket's user-space buffer),
// the stream is dropped, as log streams drop theirs. It ends with one last ERROR event
// saying why (the reader gets it if it ever reads on), then the connection is closed; it
// is destroyed if that last message has not gone out within `lastMessageGraceMs`.
//
// The present state a watch starts with is written in one turn of the event loop, before
// any of it can reach the reader: it is not a reader falling behind, however large it is
// (a store of many or large objects). Its bytes are allowed on top of the limit.

/** As much as a log stream lets pile up (log-routes.ts). */
export const DEFAULT_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const DEFAULT_LAST_MESSAGE_GRACE_MS = 10_000;

export const TOO_SLOW: WatchError = {
  reason: 'TooSlow',
  message: 'the client reads too slowly: the watch was stopped; watch again to get the present state',
};

export interface SseStreamOptions {
  heartbeatIntervalMs: number;
  maxBufferedBytes?: number;
  lastMessageGraceMs?: number;
}

export interface SseStream {
  send(event: string, data: unknown): void;
  /** Sends part of the present state the watch starts with: its bytes are allowed on top of the limit. */
  sendPresent(event: string, data: unknown): void;
  /** Resolves when the client has gone (or end() was called). */
  closed: Promise<void>;
  end(): void;
}

export function openSseStream(reply: FastifyReply, options: SseStreamOptions): SseStream {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  return sseOnResponse(res, options);
}

/** The stream on a response whose head is written; on its own so it can be tested on any ServerResponse. */
export function sseOnResponse(res: ServerResponse, options: SseStreamOptions): SseStream {
  const maxBufferedBytes = options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES;
  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  let graceTimer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;
  let presentBytes = 0;
  const finish = (): void => {
    clearInterval(heartbeat);
    resolveClosed();
  };
  const write = (text: string): void => {
    if (res.writableEnded || res.destroyed) return;
    res.write(text);
    if (res.writableLength > maxBufferedBytes + presentBytes) dropTooSlow();
  };
  const dropTooSlow = (): void => {
    res.end(sseEvent(TOO_SLOW, WATCH_ERROR_EVENT));
    graceTimer = setTimeout(() => res.destroy(), options.lastMessageGraceMs ?? DEFAULT_LAST_MESSAGE_GRACE_MS);
    graceTimer.unref();
    // Once the last message is out, the connection is closed after it (whatever keep-alive
    // the reader asked for): told, then let go. The response drops its socket on finishing.
    const socket = res.socket;
    res.once('finish', () => {
      clearTimeout(graceTimer);
      socket?.end();
    });
    finish();
  };
  // The first bytes tell the client the stream is open before any event happens.
  write(sseComment('watching'));
  heartbeat = setInterval(() => write(sseComment('heartbeat')), options.heartbeatIntervalMs);
  heartbeat.unref();
  res.on('close', () => {
    clearTimeout(graceTimer);
    finish();
  });
  return {
    send: (event, data) => write(sseEvent(data, event)),
    sendPresent: (event, data) => {
      const text = sseEvent(data, event);
      presentBytes += Buffer.byteLength(text);
      write(text);
    },
    closed,
    end: () => {
      if (!res.writableEnded) res.end();
      finish();
    },
  };
}
