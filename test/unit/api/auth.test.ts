import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApiServer } from '../../../src/api/server.js';
import { FileStore } from '../../../src/store/file-store.js';
import { AUTHORIZATION, TEST_API_TOKEN } from '../../support/api-token.js';
import { testApiOptions } from '../../support/api-server.js';

// Who may call the API: every route needs the token but /healthz and /metrics.

let dir: string;
let store: FileStore;
let app: FastifyInstance;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'luma-auth-'));
  store = await FileStore.open(path.join(dir, 'state'));
  app = await createApiServer(testApiOptions(store, dir));
});

afterEach(async () => {
  await app.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const PROJECT =
  'apiVersion: luma.dev/v1alpha1\nkind: Project\nmetadata:\n  name: web\nspec:\n  image: busybox\n  hostnames: [web.localhost]\n';

describe('the API token', () => {
  it.each([
    ['no Authorization header', undefined, /this API needs a token: send "Authorization: Bearer TOKEN"/],
    ['a wrong token', `Bearer ${TEST_API_TOKEN}x`, /the API token is not valid/],
    ['a token of another length', 'Bearer x', /the API token is not valid/],
    ['another scheme', `Basic ${TEST_API_TOKEN}`, /must be "Bearer TOKEN"/],
    ['an empty header', '', /this API needs a token/],
  ])(
    'refuses %s with 401, a JSON error naming what to send, and changes nothing',
    async (_case, authorization, message) => {
      const response = await app.inject({
        method: 'POST',
        url: '/apply',
        headers: { 'content-type': 'application/yaml', ...(authorization !== undefined ? { authorization } : {}) },
        payload: PROJECT,
      });
      expect(response.statusCode).toBe(401);
      expect(response.headers['www-authenticate']).toBe('Bearer realm="luma"');
      expect(response.json()).toMatchObject({ error: 'Unauthorized', message: expect.stringMatching(message) });
      expect(store.list('Project')).toEqual([]);
    },
  );

  it('refuses reads, unknown routes and the OpenAPI document alike, so nothing is learnt without it', async () => {
    for (const url of [
      '/api/v1alpha1/projects',
      '/api/v1alpha1/projects/web',
      '/no/such/route',
      '/openapi.json',
      '/healthz/../api/v1alpha1/projects',
    ]) {
      expect((await app.inject({ url })).statusCode, url).toBe(401);
    }
  });

  it('lets the right token through', async () => {
    const applied = await app.inject({
      method: 'POST',
      url: '/apply',
      headers: { 'content-type': 'application/yaml', ...AUTHORIZATION },
      payload: PROJECT,
    });
    expect(applied.statusCode, applied.body).toBe(200);
    const lowercase = await app.inject({
      url: '/api/v1alpha1/projects/web',
      headers: { authorization: `bearer ${TEST_API_TOKEN}` },
    });
    expect(lowercase.statusCode).toBe(200);
  });

  it('keeps /healthz and /metrics open to monitors', async () => {
    expect((await app.inject({ url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/healthz?verbose=1' })).statusCode).toBe(200);
    // No /metrics route yet: not found, but not refused for want of a token.
    expect((await app.inject({ url: '/metrics' })).statusCode).toBe(404);
  });

  it('refuses a WebSocket upgrade of a log without the token, before anything streams', async () => {
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v1alpha1/projects/web/log?follow=true`);
      ws.on('unexpected-response', (_request, response) => {
        resolve(response.statusCode ?? 0);
        ws.terminate();
      });
      ws.on('open', () => reject(new Error('the upgrade was accepted without a token')));
      ws.on('error', () => undefined);
    });
    expect(status).toBe(401);
  });
});
