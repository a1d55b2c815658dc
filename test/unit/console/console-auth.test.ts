import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApiServer } from '../../../src/api/server.js';
import { ConsoleSessions } from '../../../src/console/session.js';
import { FileStore } from '../../../src/store/file-store.js';
import { AUTHORIZATION, TEST_API_TOKEN } from '../../support/api-token.js';
import { testApiOptions } from '../../support/api-server.js';

// The console's sign-in and session cookie on the real API server: the cookie stands for
// the token on every API route, writes with it need the console's header and its own
// origin, and a one-time code from `luma console` works once.

let dir: string;
let store: FileStore;
let app: FastifyInstance;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'luma-console-auth-'));
  store = await FileStore.open(path.join(dir, 'state'));
  app = await createApiServer(testApiOptions(store, dir));
});

afterEach(async () => {
  await app.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const CONSOLE = { 'x-luma-console': '1', host: 'luma.test', origin: 'http://luma.test' };

async function signIn(payload: object): Promise<{ status: number; cookie: string | undefined }> {
  const response = await app.inject({ method: 'POST', url: '/console/session', headers: CONSOLE, payload });
  const setCookie = response.headers['set-cookie'];
  return { status: response.statusCode, cookie: typeof setCookie === 'string' ? setCookie : undefined };
}

function cookieOf(setCookie: string | undefined): string {
  return (setCookie ?? '').split(';', 1)[0] ?? '';
}

describe('console sign-in', () => {
  it('trades the token for an HttpOnly, SameSite=Strict cookie that reads the API', async () => {
    const { status, cookie } = await signIn({ token: TEST_API_TOKEN });
    expect(status).toBe(204);
    expect(cookie).toMatch(/^luma_console=\d+\.[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/);
    expect(cookie).not.toContain(TEST_API_TOKEN);
    const list = await app.inject({ url: '/api/v1alpha1/projects', headers: { cookie: cookieOf(cookie) } });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toEqual({ items: [] });
  });

  it('refuses a wrong token, and a sign-in without the console header', async () => {
    expect((await signIn({ token: `${TEST_API_TOKEN}x` })).status).toBe(401);
    const bare = await app.inject({ method: 'POST', url: '/console/session', payload: { token: TEST_API_TOKEN } });
    expect(bare.statusCode).toBe(401);
    expect(bare.headers['set-cookie']).toBeUndefined();
  });

  it('gives no data to a request without a session, or with a forged or expired one', async () => {
    const forged = new ConsoleSessions('another token').mint();
    const expired = new ConsoleSessions(TEST_API_TOKEN, () => Date.now() - 13 * 3600_000).mint();
    for (const cookie of [undefined, `luma_console=${forged}`, `luma_console=${expired}`, 'luma_console=1.x']) {
      const response = await app.inject({ url: '/api/v1alpha1/projects', headers: cookie ? { cookie } : {} });
      expect(response.statusCode, cookie).toBe(401);
      expect(response.body).not.toContain('items');
    }
  });

  it('lets a cookie write only with the console header and from its own origin', async () => {
    const cookie = cookieOf((await signIn({ token: TEST_API_TOKEN })).cookie);
    const manifest =
      'apiVersion: luma.dev/v1alpha1\nkind: Project\nmetadata:\n  name: web\nspec:\n  image: busybox\n  hostnames: [web.localhost]\n';
    const apply = (headers: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/apply',
        headers: { cookie, 'content-type': 'application/yaml', host: 'luma.test', ...headers },
        payload: manifest,
      });
    expect((await apply({})).statusCode).toBe(401);
    expect((await apply({ 'x-luma-console': '1', origin: 'http://evil.test' })).statusCode).toBe(401);
    expect(store.list('Project')).toEqual([]);
    expect((await apply({ 'x-luma-console': '1', origin: 'http://luma.test' })).statusCode).toBe(200);
    expect(store.list('Project').map((project) => project.metadata.name)).toEqual(['web']);
  });

  it('judges a request with a bearer token by the token alone, cookie or not', async () => {
    const response = await app.inject({
      url: '/api/v1alpha1/projects',
      headers: { authorization: 'Bearer wrong', cookie: `luma_console=${new ConsoleSessions(TEST_API_TOKEN).mint()}` },
    });
    expect(response.statusCode).toBe(401);
  });

  it('mints one-time codes only for the token, and each signs in once', async () => {
    const refused = await app.inject({ method: 'POST', url: '/console/sign-in-codes' });
    expect(refused.statusCode).toBe(401);
    const issued = await app.inject({ method: 'POST', url: '/console/sign-in-codes', headers: AUTHORIZATION });
    const { code, path: link } = issued.json<{ code: string; path: string }>();
    expect(link).toBe(`/console/#code=${code}`);
    expect((await signIn({ code })).status).toBe(204);
    expect((await signIn({ code })).status).toBe(401);
  });

  it('signs out by clearing the cookie', async () => {
    const response = await app.inject({ method: 'DELETE', url: '/console/session' });
    expect(response.statusCode).toBe(204);
    expect(response.headers['set-cookie']).toMatch(/^luma_console=; .*Max-Age=0/);
  });
});
