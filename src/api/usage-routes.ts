import type { FastifyInstance } from 'fastify';
import { summariseUsage, USAGE_REASONS } from '../usage/ledger.js';
import type { ApiOptions } from './api-options.js';
import { API_PREFIX } from './wire.js';

// GET /usage: what ended leases used and cost, per lease, per project and in total.

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

export function registerUsageRoutes(app: FastifyInstance, options: Pick<ApiOptions, 'usage'>): void {
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
}
