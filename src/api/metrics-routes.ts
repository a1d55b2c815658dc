import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { summariseProjects, type MetricsSummary } from '../metrics/project-summary.js';
import { documented, json } from './openapi.js';
import type { JsonSchema } from './openapi-schemas.js';

// `GET /metrics/projects`: the part of /metrics a person reads per project (cold starts,
// their median and phases; requests and latency), as JSON for the console and
// `luma metrics`, rather than each parsing Prometheus' text. Behind the token, unlike
// /metrics: it names projects to whoever asks.

const seconds = { type: ['number', 'null'], description: 'seconds; null without a sample' } as const;

/** metrics/project-summary.ts MetricsSummary, for the document. */
const metricsSummary: JsonSchema = {
  type: 'object',
  required: ['proxy', 'projects'],
  properties: {
    proxy: { type: 'boolean', description: 'false where the proxy runs in another process: it counts requests then' },
    projects: {
      type: 'array',
      items: {
        type: 'object',
        required: ['project', 'coldStarts', 'coldStartMedianSeconds', 'phases', 'requests', 'requestsByClass'],
        properties: {
          project: { type: 'string' },
          coldStarts: { type: 'integer' },
          coldStartMedianSeconds: seconds,
          phases: {
            type: 'array',
            items: {
              type: 'object',
              required: ['phase', 'count', 'meanSeconds'],
              properties: { phase: { type: 'string' }, count: { type: 'integer' }, meanSeconds: { type: 'number' } },
            },
          },
          requests: { type: 'integer' },
          requestsByClass: { type: 'object', additionalProperties: { type: 'integer' }, description: 'by 2xx, 4xx…' },
          latencyMedianSeconds: seconds,
          latencyP95Seconds: seconds,
        },
      },
    },
  },
};

export function registerMetricsRoutes(app: FastifyInstance, options: { prefix: string; metrics: Registry }): void {
  app.get(
    `${options.prefix}/metrics/projects`,
    {
      schema: {
        summary: 'Per project: cold starts (count, median, mean per phase), requests by status class and latency',
        querystring: {
          type: 'object',
          properties: { project: { type: 'string', minLength: 1, description: 'only this project' } },
        },
      },
      config: documented({ response: { 200: json(metricsSummary) } }),
    },
    async (request): Promise<MetricsSummary> => {
      const { project } = request.query as { project?: string };
      const summary = summariseProjects(await options.metrics.getMetricsAsJSON());
      if (project === undefined) return summary;
      return { ...summary, projects: summary.projects.filter((entry) => entry.project === project) };
    },
  );
}
