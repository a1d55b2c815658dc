import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { registerEventRoutes } from '../../../src/api/event-routes.js';
import { EventLog, type LumaEvent } from '../../../src/events/event-log.js';

// GET /api/v1alpha1/events: the event log, oldest first, narrowed by object or by sequence.

describe('GET /api/v1alpha1/events', () => {
  it('lists events oldest first, for one object, or after a sequence number', async () => {
    const log = new EventLog({ now: () => Date.parse('2026-01-01T00:00:00Z') });
    log.record('controller', { kind: 'Project', name: 'web' }, 'Warning', 'DriftDetected', 'container web-1 was removed outside Luma');
    log.record('sync', { kind: 'Sync', name: 'bad.yaml' }, 'Warning', 'InvalidManifest', 'bad.yaml:5:1: invalid YAML');
    log.record('controller', { kind: 'Project', name: 'api' }, 'Normal', 'PoolRefilled', 'started 1');
    const app = Fastify();
    registerEventRoutes(app, { prefix: '/api/v1alpha1', events: log });
    try {
      const names = async (query: string): Promise<string[]> =>
        (await app.inject({ method: 'GET', url: `/api/v1alpha1/events${query}` })).json<{ items: LumaEvent[] }>().items.map((event) => `${event.object.kind}/${event.object.name}`);
      expect(await names('')).toEqual(['Project/web', 'Sync/bad.yaml', 'Project/api']);
      expect(await names('?kind=project&name=web')).toEqual(['Project/web']);
      expect(await names('?afterSeq=2')).toEqual(['Project/api']);
      expect((await app.inject({ method: 'GET', url: '/api/v1alpha1/events?afterSeq=soon' })).statusCode).toBe(400);
    } finally {
      await app.close();
    }
  });
});
