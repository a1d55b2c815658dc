import type { FastifyInstance } from 'fastify';
import type { ApiOptions } from './api-options.js';
import { documented, json, NO_SECURITY } from './openapi.js';
import type { JsonSchema } from './openapi-schemas.js';
import { DOCKER_STATE_HEADER } from './wire.js';

// What a probe, a scraper or a client generator reads: /healthz and /metrics (both open,
// without the token), /openapi.json, and the header that tells every client Docker is
// unreachable.

/** api-options.ts HealthReport. */
const healthReport: JsonSchema = {
  type: 'object',
  required: ['status', 'docker'],
  properties: {
    status: { type: 'string', enum: ['ok', 'degraded'] },
    docker: {
      type: 'object',
      required: ['reachable'],
      properties: { reachable: { type: 'boolean' }, error: { type: 'string' } },
    },
    conditions: {
      type: 'array',
      description: "this controller's own conditions: DatabaseReachable with a PostgreSQL store",
      items: {
        type: 'object',
        required: ['type', 'status', 'reason', 'message', 'lastTransitionTime'],
        properties: {
          type: { type: 'string' },
          status: { type: 'string', enum: ['True', 'False', 'Unknown'] },
          reason: { type: 'string' },
          message: { type: 'string' },
          lastTransitionTime: { type: 'string', format: 'date-time' },
        },
      },
    },
  },
};

export function registerHealthRoutes(
  app: FastifyInstance,
  options: Pick<ApiOptions, 'health' | 'dockerState' | 'metrics'>,
): void {
  app.addHook('onSend', async (_request, reply) => {
    const docker = options.dockerState();
    if (!docker.reachable) void reply.header(DOCKER_STATE_HEADER, docker.error ?? 'unreachable');
  });

  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  app.get(
    '/healthz',
    {
      schema: { summary: 'Liveness and whether the Docker engine answers', security: NO_SECURITY },
      config: documented({
        response: { 200: json(healthReport, 'all is well'), 503: json(healthReport, 'Docker cannot be reached') },
      }),
    },
    async (_request, reply) => {
      const report = await options.health();
      return reply.code(report.status === 'ok' ? 200 : 503).send(report);
    },
  );

  const { metrics } = options;
  if (!metrics) return;
  app.get(
    '/metrics',
    {
      schema: {
        summary: "Prometheus metrics (text format): the controller's, and the proxy's in `luma up`",
        security: NO_SECURITY,
      },
      config: documented({
        response: { 200: { content: { 'text/plain': { schema: { type: 'string' } } } } },
      }),
    },
    async (_request, reply) => {
      const text = await metrics.metrics();
      return reply.type(metrics.contentType).send(text);
    },
  );
}
