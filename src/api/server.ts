import fastifyMultipart from '@fastify/multipart';
import fastifySwagger from '@fastify/swagger';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import { MemoryEventLog } from '../events/event-log.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { ApiOptions } from './api-options.js';
import { registerApplyRoutes } from './apply-routes.js';
import { registerCompat } from '../compat/index.js';
import { registerConsole } from '../console/index.js';
import { registerMetricsRoutes } from './metrics-routes.js';
import { registerWakeRoutes } from './wake-routes.js';
import { requireToken } from './auth.js';
import { registerContextRoutes } from './context-routes.js';
import { answerErrors } from './errors.js';
import { registerHealthRoutes } from './health-routes.js';
import { registerImageLogRoutes } from './image-log-routes.js';
import { registerObjectLogRoutes } from './log-routes.js';
import { LogSessions } from './log-sessions.js';
import { registerObjectRoutes } from './object-routes.js';
import { openApiOptions } from './openapi.js';
import { registerSyncRoutes } from './sync-routes.js';
import { registerUsageRoutes } from './usage-routes.js';
import { redactQueryToken } from './query-token.js';
import { registerWatchRoutes } from './watch-routes.js';
import { redactSecrets } from '../secrets/redact.js';
import { API_PREFIX } from './wire.js';

export { API_PREFIX, DOCKER_STATE_HEADER, type ApplyReport } from './wire.js';
export type { ApiOptions, HealthReport } from './api-options.js';

// The HTTP API: apply, get, list and delete per kind, logs, watches, usage, health and
// the OpenAPI document. Each group of routes lives in a module of its own and is
// registered in registerRoutes below; errors become answers in one place (errors.ts).
// Every write goes through the same validation as the CLI and the watched directory.

/** Manifests are small; this bounds what a client can make the server parse. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export async function createApiServer(options: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: requestLogger(options.logger), bodyLimit: MAX_BODY_BYTES });
  addBodyParsers(app, options.maxUploadBytes);
  // Contexts may also come as a multipart form (a file field), as browsers and curl -F send them.
  await app.register(fastifyMultipart, { limits: { fileSize: options.maxUploadBytes, files: 1 } });
  const clock = options.clock ?? systemClock;
  const logSessions = new LogSessions({
    store: options.store,
    runtime: options.runtime,
    heartbeatIntervalMs: options.logHeartbeatIntervalMs,
    pollIntervalMs: options.logPollIntervalMs,
    clock,
    logger: options.logger,
  });
  // Registered before every route, so that an upgrade to a route without a WebSocket handler is refused.
  await registerWebSockets(app, logSessions);
  // Before every route, so that none (WebSocket upgrades included) is reached without the
  // token; after the WebSocket plugin, whose own hook must mark an upgrade for a refusal
  // to close its socket.
  requireToken(app, options.token);
  // Secrets are shown by their digests only, in every answer of every route (src/secrets/redact.ts).
  app.addHook('preSerialization', async (_request, _reply, payload) => redactSecrets(payload));
  await app.register(fastifySwagger, openApiOptions());
  answerErrors(app, { manifestBytes: MAX_BODY_BYTES, uploadBytes: options.maxUploadBytes }, options.logger);
  // The web console's page, assets and sign-in (src/console): a client of the routes below.
  await registerConsole(app, { token: options.token });
  registerRoutes(app, options, { clock, logSessions });
  // The earlier systems' interfaces (src/compat), each turned into Luma's own objects.
  await registerCompat(app, options);
  return app;
}

/** Every route of the API, in one place. */
function registerRoutes(
  app: FastifyInstance,
  options: ApiOptions,
  shared: { clock: Clock; logSessions: LogSessions },
): void {
  const { store } = options;
  registerHealthRoutes(app, options);
  registerApplyRoutes(app, options);
  registerContextRoutes(app, options);
  registerImageLogRoutes(app, options);
  registerUsageRoutes(app, options);
  registerObjectLogRoutes(app, { prefix: API_PREFIX, store, sessions: shared.logSessions, clock: shared.clock });
  if (options.sync) registerSyncRoutes(app, { prefix: API_PREFIX, sync: options.sync });
  if (options.wake) registerWakeRoutes(app, { prefix: API_PREFIX, store, wake: options.wake });
  if (options.metrics) registerMetricsRoutes(app, { prefix: API_PREFIX, metrics: options.metrics });
  registerWatchRoutes(app, {
    prefix: API_PREFIX,
    store,
    events: options.events ?? new MemoryEventLog(),
    heartbeatIntervalMs: options.logHeartbeatIntervalMs,
    maxBufferedBytes: options.watchMaxBufferedBytes,
  });
  // After the watch routes: the list route of object-routes.ts only answers unknown kinds.
  registerObjectRoutes(app, options);
}

/**
 * fastify's request log, its URLs without the token: the compat routes take it as
 * `?token=` (src/compat/auth.ts), and a log is read by more people than the token is.
 */
function requestLogger(logger: ApiOptions['logger']): FastifyBaseLogger {
  const child = logger.child(
    {},
    {
      serializers: {
        req: (request: FastifyRequest) => ({
          method: request.method,
          url: redactQueryToken(request.url),
          host: request.host,
          remoteAddress: request.ip,
          remotePort: request.socket?.remotePort,
        }),
      },
    },
  );
  return child as FastifyBaseLogger;
}

function addBodyParsers(app: FastifyInstance, maxUploadBytes: number): void {
  // YAML and JSON manifests arrive as text: the model parses both, keeping line numbers.
  app.addContentTypeParser(
    ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/plain'],
    { parseAs: 'string' },
    (_req, body, done) => {
      done(null, body);
    },
  );
  // Build contexts arrive as the archive itself.
  app.addContentTypeParser(
    ['application/x-tar', 'application/gzip', 'application/x-gzip', 'application/zip', 'application/octet-stream'],
    { parseAs: 'buffer', bodyLimit: maxUploadBytes },
    (_req, body, done) => done(null, body),
  );
}

async function registerWebSockets(app: FastifyInstance, logSessions: LogSessions): Promise<void> {
  await app.register(fastifyWebsocket, {
    options: { maxPayload: 64 * 1024 },
    // Open logs end with their own reason (code 1001, "shutting down") rather than a bare close.
    preClose: async () => {
      logSessions.shutdown();
      for (const client of app.websocketServer.clients) client.close(1001, 'the Luma API is shutting down');
      await new Promise<void>((resolve) => app.websocketServer.close(() => resolve()));
    },
  });
}
