import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import type { WebSocket } from 'ws';
import { formatLogLine } from '../logs/log-format.js';
import type { LogRecord, LogTarget } from '../logs/object-log.js';
import { sseComment, sseEvent } from '../logs/sse.js';
import { KIND_PLURALS } from '../model/types.js';
import type { ObjectStore } from '../store/store.js';
import type { Clock } from '../util/clock.js';
import { NotFoundError } from './errors.js';
import { documented, refusal } from './openapi.js';
import { parseLogQuery, type LogQuery } from './log-query.js';
import type { LogSession, LogSessions, LogSink, SessionEnd, SessionEndReason } from './log-sessions.js';
import { errorMessage } from '../util/error-message.js';

// `GET /api/v1alpha1/{projects|leases}/NAME/log`: a running object's log, three ways on
// one path. Plain text by default (chunked, one line per line), server-sent events with
// `Accept: text/event-stream`, and a WebSocket when the request asks to upgrade. An unknown
// object or a bad query is refused before anything streams (before the upgrade, too).

/** Why a log WebSocket closed, in its close code (4000–4999 are the application's own). */
export const LOG_CLOSE_CODES: Record<SessionEndReason | 'too-slow', number> = {
  complete: 1000,
  shutdown: 1001,
  error: 1011,
  'object-deleted': 4404,
  'container-gone': 4410,
  'too-slow': 4429,
};

/** A reader that lets this much pile up unread is dropped rather than held in memory. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
/** Leases in these phases have no container any more; their log is read, not followed. */
const FINISHED_LEASE_PHASES: ReadonlySet<string> = new Set(['Expired', 'Released', 'Failed']);

export interface LogRouteOptions {
  /** The API's path prefix, `/api/v1alpha1`. */
  prefix: string;
  store: ObjectStore;
  sessions: LogSessions;
  clock: Clock;
}

interface LogRequest {
  target: LogTarget;
  query: LogQuery;
}

const querystring = {
  type: 'object',
  properties: {
    follow: {
      type: 'string',
      description: 'true: keep streaming new lines (and instances that start) until the log ends',
    },
    tail: { type: 'string', description: 'per instance, only the last N lines written so far (default all)' },
    since: { type: 'string', description: 'only lines from this RFC 3339 time on, or from this long ago (10m, 1h30m)' },
    timestamps: {
      type: 'string',
      description: 'plain text only: start each line with its RFC 3339 time (default true)',
    },
  },
} as const;

export function registerObjectLogRoutes(app: FastifyInstance, options: LogRouteOptions): void {
  for (const kind of ['Project', 'Lease'] as const) {
    const resolve = (request: FastifyRequest): LogRequest => {
      const { name } = request.params as { name: string };
      const object = options.store.get(kind, name);
      if (!object) throw new NotFoundError(`${kind} "${name}"`);
      const query = parseLogQuery(request.query as Record<string, unknown>, options.clock.now());
      if (object.kind === 'Lease' && FINISHED_LEASE_PHASES.has(object.status?.phase ?? '')) query.follow = false;
      return { target: { kind, name }, query };
    };
    app.route({
      method: 'GET',
      url: `${options.prefix}/${KIND_PLURALS[kind]}/:name/log`,
      ...logRouteDocs(kind),
      // Runs before the upgrade too, so an unknown object or a bad query gets an HTTP answer.
      preValidation: async (request) => {
        resolve(request);
      },
      handler: async (request, reply) => {
        const { target, query } = resolve(request);
        if (acceptsEventStream(request.headers.accept)) await serveEventStream(options.sessions, target, query, reply);
        else await servePlainText(options.sessions, target, query, reply);
        return reply;
      },
      wsHandler: (socket, request) => {
        const { target, query } = resolve(request);
        serveWebSocket(options.sessions, options.clock, target, query, socket);
      },
    });
  }
}

/** What the OpenAPI document says of a Project's or a Lease's log route. */
function logRouteDocs(kind: 'Project' | 'Lease'): Pick<RouteOptions, 'schema' | 'config'> {
  const what =
    kind === 'Project'
      ? "every instance of a Project, each line prefixed with the instance's name"
      : "a Lease's container";
  return {
    schema: {
      summary: `The log of ${what}`,
      description: [
        'Plain text by default (`[instance] TIME line`). `Accept: text/event-stream` gives server-sent events: one event per line with JSON data',
        '{instance, stream, time, line}, `notice` and a final `end` event {reason, message}, and `: heartbeat` comments while following.',
        'A WebSocket upgrade on this path sends one JSON message per line ({type: "line", ...}), heartbeats ({type: "heartbeat"}) and pings,',
        `and closes with a code that says why: ${Object.entries(LOG_CLOSE_CODES)
          .map(([reason, code]) => `${code} ${reason}`)
          .join(', ')}.`,
      ].join(' '),
      params: { type: 'object', properties: { name: { type: 'string' } } },
      querystring,
    },
    config: documented({
      response: {
        200: {
          description: 'the log: plain text, or server-sent events with Accept: text/event-stream',
          content: {
            'text/plain': { schema: { type: 'string' } },
            'text/event-stream': { schema: { type: 'string' } },
          },
        },
        400: refusal('a bad or unknown query parameter'),
        404: refusal(`no ${kind} of this name`),
        503: refusal('Docker cannot be reached'),
      },
    }),
  };
}

function acceptsEventStream(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((type) => type.trim().toLowerCase().startsWith('text/event-stream'));
}

/** Writes headers on first use, so a failure before anything streams can still be an error status. */
interface StreamingResponse {
  /** Sends the headers now, if nothing has been written yet. */
  open(): void;
  /** False when the reader has let too much pile up. */
  write(text: string): boolean;
}

function streamingResponse(reply: FastifyReply, contentType: string): StreamingResponse {
  const res = reply.raw;
  const open = (): void => {
    if (res.headersSent) return;
    reply.hijack();
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
    res.flushHeaders();
  };
  return {
    open,
    write(text) {
      open();
      if (res.writableEnded || res.destroyed) return false;
      res.write(text);
      return res.writableLength <= MAX_BUFFERED_BYTES;
    },
  };
}

async function serveStream(
  sessions: LogSessions,
  target: LogTarget,
  query: LogQuery,
  reply: FastifyReply,
  contentType: string,
  wire: (out: StreamingResponse, drop: () => void) => LogSink,
): Promise<void> {
  const out = streamingResponse(reply, contentType);
  const res = reply.raw;
  // `drop` runs only once the session streams, after `session` is assigned.
  const drop = (): void => {
    session.close();
    res.destroy();
  };
  const session: LogSession = sessions.start(target, query, wire(out, drop));
  res.on('close', () => session.close());
  // Docker unreachable at the start: nothing was written, so fastify answers 503 with the reason.
  await session.started;
  out.open();
  await session.finished;
}

function servePlainText(sessions: LogSessions, target: LogTarget, query: LogQuery, reply: FastifyReply): Promise<void> {
  const format = { prefix: target.kind === 'Project', timestamps: query.timestamps };
  return serveStream(sessions, target, query, reply, 'text/plain; charset=utf-8', (out, drop) => ({
    record: (record) => {
      if (!out.write(`${formatLogLine(record, format)}\n`)) drop();
    },
    // Plain text has no room for heartbeats or notices without changing what a reader sees.
    heartbeat: () => undefined,
    notice: () => undefined,
    end: (end) => {
      // A broken chunked answer is how a plain-text reader learns the log did not end cleanly.
      if (end.reason === 'error' || end.reason === 'shutdown') {
        reply.raw.destroy();
        return;
      }
      out.open();
      reply.raw.end();
    },
  }));
}

function serveEventStream(
  sessions: LogSessions,
  target: LogTarget,
  query: LogQuery,
  reply: FastifyReply,
): Promise<void> {
  return serveStream(sessions, target, query, reply, 'text/event-stream; charset=utf-8', (out, drop) => ({
    record: (record) => {
      if (!out.write(sseEvent(lineData(record)))) drop();
    },
    heartbeat: () => {
      if (!out.write(sseComment('heartbeat'))) drop();
    },
    notice: (message) => {
      out.write(sseEvent({ message }, 'notice'));
    },
    end: (end) => {
      out.write(sseEvent(end, 'end'));
      reply.raw.end();
    },
  }));
}

function serveWebSocket(
  sessions: LogSessions,
  clock: Clock,
  target: LogTarget,
  query: LogQuery,
  socket: WebSocket,
): void {
  let peerAnswered = true;
  socket.on('pong', () => (peerAnswered = true));
  const send = (message: object): void => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  };
  const closeWith = (end: SessionEnd | { reason: 'too-slow'; message: string }): void => {
    send({ type: 'end', ...end });
    // Close reasons are limited to 123 bytes.
    socket.close(LOG_CLOSE_CODES[end.reason], Buffer.from(end.message).subarray(0, 123).toString());
  };
  const session = sessions.start(target, query, {
    record: (record) => {
      if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
        session.close();
        closeWith({ reason: 'too-slow', message: 'the client reads too slowly; the log was stopped' });
        return;
      }
      send({ type: 'line', ...lineData(record) });
    },
    heartbeat: () => {
      // A peer that did not answer the last ping is gone without saying so.
      if (!peerAnswered) {
        session.close();
        socket.terminate();
        return;
      }
      peerAnswered = false;
      if (socket.readyState === socket.OPEN) socket.ping();
      send({ type: 'heartbeat', time: new Date(clock.now()).toISOString() });
    },
    notice: (message) => send({ type: 'notice', message }),
    end: closeWith,
  });
  socket.on('close', () => session.close());
  socket.on('error', () => session.close());
  session.started.catch((error: unknown) => {
    closeWith({ reason: 'error', message: errorMessage(error) });
  });
}

function lineData(record: LogRecord): { instance: string; stream: string; time: string; line: string } {
  return { instance: record.instance, stream: record.stream, time: record.time, line: record.line };
}
