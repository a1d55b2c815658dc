import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { setTimeout } from 'node:timers/promises';
import fastifyMultipart from '@fastify/multipart';
import fastifySwagger from '@fastify/swagger';
import fastifyWebsocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AdmissionSettings } from '../apply/admission.js';
import { renewLease } from './lease-renewal.js';
import { applyDocuments, parseFiles, type ManifestFile } from '../apply/apply.js';
import { parseManifests, type ParsedDocument } from '../model/parse.js';
import { KIND_PLURALS, KINDS, type Kind } from '../model/types.js';
import { uploadedContextResolver } from '../apply/context-resolvers.js';
import { ArchiveError } from '../images/archive.js';
import type { ContextStore } from '../images/context-store.js';
import { ContextError } from '../images/context.js';
import { EventLog } from '../events/event-log.js';
import type { LogHub } from '../logs/log-hub.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { ObjectStore } from '../store/store.js';
import { summariseUsage, USAGE_REASONS, type UsageRecord } from '../usage/ledger.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { Logger } from '../util/logger.js';
import type { Registry } from 'prom-client';
import { requireToken } from './auth.js';
import { registerConsole } from '../console/index.js';
import { BadRequestError, NotFoundError, statusFor, tooLargeError } from './errors.js';
import { registerObjectLogRoutes } from './log-routes.js';
import { registerSyncRoutes, type SyncControl } from './sync-routes.js';
import { registerMetricsRoutes } from './metrics-routes.js';
import { registerWakeRoutes } from './wake-routes.js';
import { registerWatchRoutes } from './watch-routes.js';
import { API_PREFIX, DOCKER_STATE_HEADER, type ApplyReport } from './wire.js';

export { API_PREFIX, DOCKER_STATE_HEADER, type ApplyReport } from './wire.js';
import { LogSessions } from './log-sessions.js';

// The HTTP API: apply, get, list and delete per kind, health and the OpenAPI document.
// Every write goes through the same validation as the CLI and the watched directory.

/** Manifests are small; this bounds what a client can make the server parse. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export interface HealthReport {
  status: 'ok' | 'degraded';
  docker: { reachable: boolean; error?: string };
}

export interface ApiOptions {
  store: ObjectStore;
  contexts: ContextStore;
  logs: LogHub;
  /** Where project and lease logs are read from. */
  runtime: ContainerRuntime;
  /** How often a followed log sends a heartbeat (SSE comment, WebSocket ping and message). */
  logHeartbeatIntervalMs: number;
  /** A watch or event stream reader that lets more than this pile up unread is dropped (default 8 MiB). */
  watchMaxBufferedBytes?: number;
  /** How often a followed log looks for new instances besides Docker's events. */
  logPollIntervalMs?: number;
  clock?: Clock;
  maxUploadBytes: number;
  /** The operator's rules every write must pass (lease bounds and caps, image allowlist). */
  admission: AdmissionSettings;
  /** What ended leases used and cost. */
  usage: { records(): readonly UsageRecord[] };
  /** What happened to objects: `GET /api/v1alpha1/events`, and described objects' recent history. */
  events?: EventLog;
  logger: Logger;
  /** What every request but /healthz and /metrics must carry (`Authorization: Bearer TOKEN`). */
  token: string;
  health: () => Promise<HealthReport>;
  /** Last known Docker state, without a fresh check; told to every client in a header. */
  dockerState: () => HealthReport['docker'];
  /** The watched manifests directory, when this process follows one. */
  sync?: SyncControl;
  /** Starts a project as a request would (`POST /projects/NAME/wake`); no such route when absent. */
  wake?: (project: string) => void;
  /** Served at /metrics in Prometheus' text format; no /metrics route when absent. */
  metrics?: Registry;
}

const PLURAL_TO_KIND = new Map<string, Kind>(KINDS.map((kind) => [KIND_PLURALS[kind], kind]));

function kindOf(plural: string): Kind {
  const kind = PLURAL_TO_KIND.get(plural);
  if (!kind) throw new NotFoundError(`resource type "${plural}" (known: ${[...PLURAL_TO_KIND.keys()].join(', ')})`);
  return kind;
}

function isTrue(value: unknown): boolean {
  return value === 'true' || value === '1' || value === true;
}

const applyResponse = {
  type: 'object',
  properties: {
    dryRun: { type: 'boolean' },
    results: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          kind: { type: 'string' },
          name: { type: 'string' },
          result: { type: 'string', enum: ['created', 'configured', 'unchanged'] },
          object: {
            description: 'dry runs only: the object as it would be stored',
            type: 'object',
            additionalProperties: true,
          },
          live: {
            description: 'dry runs only: the object as it is stored now (null when it would be created)',
            type: ['object', 'null'],
            additionalProperties: true,
          },
        },
      },
    },
  },
} as const;

const usageSums = {
  currency: { type: 'string' },
  leases: { type: 'integer' },
  runtimeSeconds: { type: 'number' },
  vcpuSeconds: { type: 'number' },
  gibSeconds: { type: 'number' },
  cost: { type: 'number' },
} as const;

const usageResponse = {
  type: 'object',
  properties: {
    leases: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          lease: { type: 'string' },
          leaseUid: { type: 'string' },
          project: { type: 'string' },
          startedAt: { type: 'string', format: 'date-time' },
          endedAt: { type: 'string', format: 'date-time' },
          runtimeSeconds: { type: 'number' },
          cpuMillis: { type: 'number' },
          memoryBytes: { type: 'number' },
          cost: { type: 'number' },
          currency: { type: 'string' },
          reason: { type: 'string', enum: [...USAGE_REASONS] },
          fromPool: { type: 'boolean' },
        },
      },
    },
    projects: { type: 'array', items: { type: 'object', properties: { project: { type: 'string' }, ...usageSums } } },
    totals: { type: 'array', items: { type: 'object', properties: usageSums } },
  },
} as const;

/** The most of a refused body read (and dropped) so that its sender hears why, rather than a broken pipe. */
const MAX_DRAINED_BYTES = 64 * 1024 * 1024;
const MAX_DRAIN_MS = 10_000;

/**
 * A client still sending a body that was refused for its size gets a reset connection,
 * and reports that instead of the 413 (the CLI saw EPIPE): the rest is read and dropped
 * first, within bounds; a body beyond them is cut off, as before.
 */
async function drainBody(raw: IncomingMessage): Promise<void> {
  if (raw.complete || Number(raw.headers['content-length'] ?? MAX_DRAINED_BYTES + 1) > MAX_DRAINED_BYTES) return;
  raw.resume();
  await Promise.race([once(raw, 'end').catch(() => undefined), setTimeout(MAX_DRAIN_MS, undefined, { ref: false })]);
}

export async function createApiServer(options: ApiOptions): Promise<FastifyInstance> {
  const { store } = options;
  const app = Fastify({ loggerInstance: options.logger as FastifyBaseLogger, bodyLimit: MAX_BODY_BYTES });

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
    { parseAs: 'buffer', bodyLimit: options.maxUploadBytes },
    (_req, body, done) => done(null, body),
  );

  // Contexts may also come as a multipart form (a file field), as browsers and curl -F send them.
  await app.register(fastifyMultipart, { limits: { fileSize: options.maxUploadBytes, files: 1 } });

  const clock = options.clock ?? systemClock;
  const logSessions = new LogSessions({
    store,
    runtime: options.runtime,
    heartbeatIntervalMs: options.logHeartbeatIntervalMs,
    ...(options.logPollIntervalMs !== undefined ? { pollIntervalMs: options.logPollIntervalMs } : {}),
    clock,
    logger: options.logger,
  });
  // Registered before every route, so that an upgrade to a route without a WebSocket handler is refused.
  await app.register(fastifyWebsocket, {
    options: { maxPayload: 64 * 1024 },
    // Open logs end with their own reason (code 1001, "shutting down") rather than a bare close.
    preClose: async () => {
      logSessions.shutdown();
      for (const client of app.websocketServer.clients) client.close(1001, 'the Luma API is shutting down');
      await new Promise<void>((resolve) => app.websocketServer.close(() => resolve()));
    },
  });
  // Before every route, so that none (WebSocket upgrades included) is reached without the
  // token; after the WebSocket plugin, whose own hook must mark an upgrade for a refusal
  // to close its socket.
  requireToken(app, options.token);

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: 'Luma API',
        version: '0.1.0',
        description: 'Declare apps (Project, Image, Lease) and read their status.',
      },
    },
  });

  const limits = { manifestBytes: MAX_BODY_BYTES, uploadBytes: options.maxUploadBytes };
  app.setErrorHandler(async (error, request, reply) => {
    const tooLarge = tooLargeError(error, request.headers['content-type'], limits);
    const { status, body } = statusFor(tooLarge ?? error);
    if (status >= 500) options.logger.error({ err: error }, 'API error');
    if (tooLarge) await drainBody(request.raw);
    return reply.code(status).send(body);
  });

  app.addHook('onSend', async (_request, reply) => {
    const docker = options.dockerState();
    if (!docker.reachable) void reply.header(DOCKER_STATE_HEADER, docker.error ?? 'unreachable');
  });

  await registerConsole(app, { token: options.token });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get(
    '/healthz',
    { schema: { summary: 'Liveness and whether the Docker engine answers' } },
    async (_request, reply) => {
      const report = await options.health();
      return reply.code(report.status === 'ok' ? 200 : 503).send(report);
    },
  );

  /** A dry run also answers what is stored now and what would be, which is what `luma diff` shows. */
  async function applyAndReport(
    documents: ParsedDocument[],
    dryRun: boolean,
    uploads: Map<string, string>,
  ): Promise<ApplyReport> {
    const live = dryRun ? documents.map((doc) => store.get(doc.object.kind, doc.object.metadata.name) ?? null) : [];
    const applied = await applyDocuments(store, documents, {
      settings: options.admission,
      dryRun,
      resolveContext: uploadedContextResolver(options.contexts, uploads, { dryRun }),
    });
    return {
      dryRun,
      results: applied.map(({ kind, name, result, object }, index) => ({
        kind,
        name,
        result,
        ...(dryRun ? { object, live: live[index] ?? null } : {}),
      })),
    };
  }

  const { metrics } = options;
  if (metrics) {
    // Open like /healthz: Prometheus scrapes it without the API token.
    app.get(
      '/metrics',
      { schema: { summary: "Prometheus metrics (text format): the controller's, and the proxy's in `luma up`" } },
      async (_request, reply) => {
        const text = await metrics.metrics();
        return reply.type(metrics.contentType).send(text);
      },
    );
  }

  app.post(
    '/apply',
    {
      schema: {
        summary: 'Apply multi-document YAML (or JSON) manifests',
        querystring: { type: 'object', properties: { source: { type: 'string' }, dryRun: { type: 'string' } } },
        response: { 200: applyResponse },
      },
    },
    async (request) => {
      const query = request.query as { source?: string; dryRun?: string };
      const text = typeof request.body === 'string' ? request.body : JSON.stringify(request.body ?? '');
      const documents = parseManifests(text, query.source ?? 'request body');
      const dryRun = isTrue(query.dryRun);
      return applyAndReport(documents, dryRun, new Map());
    },
  );

  app.post(
    '/apply/files',
    {
      schema: {
        summary: 'Apply several manifest files at once; all or nothing',
        body: {
          type: 'object',
          required: ['files'],
          properties: {
            dryRun: { type: 'boolean' },
            contexts: {
              description:
                'Build contexts uploaded to POST /contexts for Image documents: file, 0-based document index, digest',
              type: 'array',
              items: {
                type: 'object',
                required: ['file', 'document', 'digest'],
                properties: { file: { type: 'string' }, document: { type: 'integer' }, digest: { type: 'string' } },
              },
            },
            files: {
              type: 'array',
              items: {
                type: 'object',
                required: ['path', 'content'],
                properties: { path: { type: 'string' }, content: { type: 'string' } },
              },
            },
          },
        },
        response: { 200: applyResponse },
      },
    },
    async (request) => {
      const body = request.body as {
        files: ManifestFile[];
        dryRun?: boolean;
        contexts?: Array<{ file: string; document: number; digest: string }>;
      };
      const dryRun = body.dryRun ?? false;
      const uploads = new Map(
        (body.contexts ?? []).map((context) => [`${context.file}#${context.document}`, context.digest]),
      );
      return applyAndReport(parseFiles(body.files), dryRun, uploads);
    },
  );

  app.post(
    '/contexts',
    {
      schema: {
        summary:
          'Upload a build context (tar, tar.gz or zip as the request body); returns its digest for Image manifests',
        querystring: {
          type: 'object',
          properties: {
            dockerfile: {
              type: 'string',
              minLength: 1,
              maxLength: 4096,
              description:
                "The Image's spec.build.dockerfile: counted in the digest even where .dockerignore leaves it out",
            },
          },
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: { digest: { type: 'string' } } } },
      },
    },
    async (request) => {
      let archive: Buffer;
      if (request.isMultipart()) {
        const file = await request.file();
        if (!file) throw new BadRequestError('the multipart form holds no file; send the archive as a file field');
        archive = await file.toBuffer();
        if (file.file.truncated)
          throw new BadRequestError(`the archive is larger than ${options.maxUploadBytes} bytes`);
      } else if (Buffer.isBuffer(request.body)) {
        archive = request.body;
      } else {
        throw new BadRequestError(
          'send the archive as the body (Content-Type application/x-tar, application/gzip or application/zip) or as a multipart file field',
        );
      }
      try {
        const { dockerfile } = request.query as { dockerfile?: string };
        return { digest: await options.contexts.ingestArchive(archive, dockerfile ? { dockerfile } : {}) };
      } catch (error) {
        if (error instanceof ArchiveError || error instanceof ContextError)
          throw new BadRequestError(`context refused: ${error.message}`);
        throw error;
      }
    },
  );

  app.get(
    `${API_PREFIX}/images/:name/log`,
    {
      schema: {
        summary: 'The output of the current or last build; ?follow=true streams it until the build ends',
        querystring: { type: 'object', properties: { follow: { type: 'string' } } },
      },
    },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      const { follow } = request.query as { follow?: string };
      const image = store.get('Image', name);
      if (!image) throw new NotFoundError(`Image "${name}"`);
      const key = `image/${name}`;
      const recent = options.logs.recent(key) || image.status?.buildLog || '';
      if (!isTrue(follow) || !options.logs.isRunning(key)) {
        return reply.type('text/plain; charset=utf-8').send(recent);
      }
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      res.write(recent);
      await new Promise<void>((resolve) => {
        const unsubscribe = options.logs.subscribe(key, (event) => {
          if (event.type === 'text') res.write(event.text);
          else {
            unsubscribe();
            res.end();
            resolve();
          }
        });
        res.on('close', () => {
          unsubscribe();
          resolve();
        });
      });
      return reply;
    },
  );

  app.get(
    `${API_PREFIX}/usage`,
    {
      schema: {
        summary: 'What ended leases used and cost: per lease, per project and in total (one row per currency)',
        querystring: {
          type: 'object',
          properties: { project: { type: 'string', minLength: 1, description: "only this project's leases" } },
        },
        response: { 200: usageResponse },
      },
    },
    async (request) => {
      const { project } = request.query as { project?: string };
      const records = options.usage.records();
      return summariseUsage(project === undefined ? records : records.filter((record) => record.project === project));
    },
  );

  registerObjectLogRoutes(app, { prefix: API_PREFIX, store, sessions: logSessions, clock });
  if (options.sync) registerSyncRoutes(app, { prefix: API_PREFIX, sync: options.sync });
  if (options.wake) registerWakeRoutes(app, { prefix: API_PREFIX, store, wake: options.wake });
  if (options.metrics) registerMetricsRoutes(app, { prefix: API_PREFIX, metrics: options.metrics });

  registerWatchRoutes(app, {
    prefix: API_PREFIX,
    store,
    events: options.events ?? new EventLog(),
    heartbeatIntervalMs: options.logHeartbeatIntervalMs,
    ...(options.watchMaxBufferedBytes !== undefined ? { maxBufferedBytes: options.watchMaxBufferedBytes } : {}),
  });

  // Lists of known kinds are in watch-routes.ts; this only answers for unknown ones.
  app.get(`${API_PREFIX}/:plural`, { schema: { hide: true } }, async (request) => {
    const { plural } = request.params as { plural: string };
    return { items: store.list(kindOf(plural)) };
  });

  app.get(`${API_PREFIX}/:plural/:name`, { schema: { summary: 'Get one object' } }, async (request) => {
    const { plural, name } = request.params as { plural: string; name: string };
    const kind = kindOf(plural);
    const object = store.get(kind, name);
    if (!object) throw new NotFoundError(`${kind} "${name}"`);
    return object;
  });

  app.put(
    `${API_PREFIX}/:plural/:name`,
    { schema: { summary: 'Create or replace one object (JSON); honours metadata.resourceVersion' } },
    async (request) => {
      const { plural, name } = request.params as { plural: string; name: string };
      const kind = kindOf(plural);
      const documents = parseManifests(JSON.stringify(request.body ?? null, null, 2), `${plural}/${name}`);
      const [document] = documents;
      if (documents.length !== 1 || !document) throw new BadRequestError('the body must be exactly one object');
      if (document.object.kind !== kind || document.object.metadata.name !== name) {
        throw new BadRequestError(
          `the body declares ${document.object.kind} "${document.object.metadata.name}" but the path names ${kind} "${name}"`,
        );
      }
      const [applied] = await applyDocuments(store, documents, {
        settings: options.admission,
        resolveContext: uploadedContextResolver(options.contexts, new Map()),
      });
      return applied?.object;
    },
  );

  app.post(
    `${API_PREFIX}/leases/:name/renew`,
    {
      schema: {
        summary: "Extend an Active lease's expiry (never past leases.maxTtl from its start)",
        body: {
          type: 'object',
          required: ['extend'],
          properties: { extend: { type: 'string', description: 'a duration such as 10m' } },
        },
      },
    },
    async (request) => {
      const { name } = request.params as { name: string };
      return renewLease(store, name, (request.body as { extend?: unknown }).extend, options.admission);
    },
  );

  app.delete(
    `${API_PREFIX}/:plural/:name`,
    {
      schema: {
        summary: 'Delete one object',
        querystring: { type: 'object', properties: { resourceVersion: { type: 'string' } } },
      },
    },
    async (request) => {
      const { plural, name } = request.params as { plural: string; name: string };
      const { resourceVersion } = request.query as { resourceVersion?: string };
      const kind = kindOf(plural);
      const deleted = await store.delete(kind, name, resourceVersion !== undefined ? { resourceVersion } : {});
      if (!deleted) throw new NotFoundError(`${kind} "${name}"`);
      return deleted;
    },
  );

  return app;
}
