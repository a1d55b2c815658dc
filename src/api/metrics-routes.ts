import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { summariseProjects, type MetricsSummary } from '../metrics/project-summary.js';

// `GET /metrics/projects`: the part of /metrics a person reads per project (cold starts,
// their median and phases; requests and latency), as JSON for the console and
// `luma metrics`, rather than each parsing Prometheus' text. Behind the token, unlike
// /metrics: it names projects to whoever asks.

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
    },
    async (request): Promise<MetricsSummary> => {
      const { project } = request.query as { project?: string };
      const summary = summariseProjects(await options.metrics.getMetricsAsJSON());
      if (project === undefined) return summary;
      return { ...summary, projects: summary.projects.filter((entry) => entry.project === project) };
    },
  );
}
