import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { registerSyncRoutes } from '../../../src/api/sync-routes.js';
import type { SyncStatus } from '../../../src/sync/sync-status.js';

// GET and POST /api/v1alpha1/sync: the status as the sync reports it, and a pass on
// demand with or without force; anything else in the body is refused.

const STATUS: SyncStatus = {
  directory: 'manifests',
  exists: true,
  phase: 'Degraded',
  passes: 3,
  files: [
    {
      file: 'bad.yaml',
      state: 'Invalid',
      objects: ['Project/kept'],
      issues: [{ file: 'manifests/bad.yaml', line: 5, column: 1, path: '', message: 'invalid YAML' }],
    },
  ],
  conflicts: [],
  pruned: [],
};

let app: FastifyInstance;
let passes: Array<{ force?: boolean }>;

beforeEach(async () => {
  passes = [];
  app = Fastify();
  registerSyncRoutes(app, {
    prefix: '/api/v1alpha1',
    sync: {
      status: () => STATUS,
      passNow: async (options) => {
        passes.push(options);
        return { ...STATUS, passes: STATUS.passes + passes.length };
      },
    },
  });
  await app.ready();
});

afterEach(async () => {
  await app.close();
});

describe('sync routes', () => {
  it('GET answers the status with each issue’s file, line and column', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1alpha1/sync' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual(STATUS);
    expect(passes).toEqual([]);
  });

  it('POST runs a pass now, forced only when asked', async () => {
    const plain = await app.inject({ method: 'POST', url: '/api/v1alpha1/sync' });
    expect(plain.statusCode).toBe(200);
    expect(plain.json<SyncStatus>().passes).toBe(4);
    await app.inject({ method: 'POST', url: '/api/v1alpha1/sync', payload: { force: true } });
    expect(passes).toEqual([{ force: false }, { force: true }]);
  });

  it('POST refuses a body it does not know, and runs nothing', async () => {
    const response = await app.inject({ method: 'POST', url: '/api/v1alpha1/sync', payload: { force: 'yes' } });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({ error: 'BadRequest', message: 'force: expected true or false, got "yes"' });
    const unknown = await app.inject({ method: 'POST', url: '/api/v1alpha1/sync', payload: { froce: true } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json<{ message: string }>().message).toBe('unknown field "froce" in the body (known: force)');
    expect(passes).toEqual([]);
  });
});
