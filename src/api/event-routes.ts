import type { FastifyInstance } from 'fastify';
import type { EventFilter, LumaEvent } from '../events/event-log.js';

// Recent events (`luma events`): oldest first, optionally for one object, or only those
// after a sequence number a client saw last.

export interface EventSource {
  list(filter?: EventFilter): LumaEvent[];
}

export function registerEventRoutes(app: FastifyInstance, options: { prefix: string; events: EventSource }): void {
  app.get(
    `${options.prefix}/events`,
    {
      schema: {
        summary: 'Recent events, oldest first',
        querystring: {
          type: 'object',
          properties: { kind: { type: 'string' }, name: { type: 'string' }, afterSeq: { type: 'integer', minimum: 0 } },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const query = request.query as EventFilter;
      return { items: options.events.list(query) };
    },
  );
}
