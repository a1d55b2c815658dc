import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { LogSessions, type SessionEnd } from '../api/log-sessions.js';
import type { LogRecord } from '../logs/object-log.js';
import type { LeaseObject } from '../model/types.js';
import type { RouteHook } from './auth.js';
import type { CompatContext } from './context.js';
import { addRoutes, pathsOf } from './routes.js';

// ContainerLease's `WS /ws/logs/{containerId}`: the lease's container log as
// `{ timestamp, level, message }` messages (level `info` for stdout, `error` for stderr),
// with a heartbeat message and a ping every logHeartbeatInterval, through the same log
// sessions as Luma's own log API.

const FINISHED = new Set(['Expired', 'Released', 'Failed']);

interface LogMessage {
  timestamp: string;
  level: 'info' | 'error' | 'heartbeat';
  message: string;
}

export function registerLeaseLogs(
  scope: FastifyInstance,
  ctx: CompatContext,
  before: RouteHook[],
  ownLease: (id: string) => LeaseObject,
): void {
  const sessions = new LogSessions({
    store: ctx.store,
    runtime: ctx.runtime,
    heartbeatIntervalMs: ctx.logHeartbeatIntervalMs,
    clock: ctx.clock,
    logger: ctx.logger,
  });
  scope.addHook('onClose', async () => sessions.shutdown());
  const leaseOf = (request: FastifyRequest): LeaseObject =>
    ownLease((request.params as { containerId: string }).containerId);
  addRoutes(
    scope,
    ctx,
    'containerLease',
    [
      {
        method: 'GET',
        urls: pathsOf('containerLease', '/ws/logs/:containerId'),
        schema: { summary: 'ContainerLease: WebSocket of a lease container log ({timestamp, level, message})' },
        // Before the upgrade, so an unknown id is an HTTP 404 rather than a socket that closes.
        preValidation: async (request) => {
          leaseOf(request);
        },
        handler: async (_request, reply) =>
          reply.code(426).send({ error: 'this path is a WebSocket: connect with Upgrade: websocket' }),
        wsHandler: (socket, request) => {
          const lease = leaseOf(request);
          streamLog(sessions, ctx, lease, socket);
        },
      },
    ],
    before,
  );
}

function streamLog(sessions: LogSessions, ctx: CompatContext, lease: LeaseObject, socket: WebSocket): void {
  const now = (): string => new Date(ctx.clock.now()).toISOString();
  const send = (message: LogMessage): void => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  };
  const end = (ended: SessionEnd): void => {
    send({ timestamp: now(), level: 'info', message: `log ended: ${ended.message}` });
    socket.close(1000, ended.reason);
  };
  const follow = !FINISHED.has(lease.status?.phase ?? '');
  const session = sessions.start(
    { kind: 'Lease', name: lease.metadata.name },
    { follow, timestamps: true },
    {
      record: (record: LogRecord) =>
        send({ timestamp: record.time, level: record.stream === 'stderr' ? 'error' : 'info', message: record.line }),
      heartbeat: () => {
        if (socket.readyState === socket.OPEN) socket.ping();
        send({ timestamp: now(), level: 'heartbeat', message: '' });
      },
      notice: (message) => send({ timestamp: now(), level: 'info', message }),
      end,
    },
  );
  socket.on('close', () => session.close());
  socket.on('error', () => session.close());
  session.started.catch((error: unknown) =>
    end({ reason: 'error', message: error instanceof Error ? error.message : String(error) }),
  );
}
