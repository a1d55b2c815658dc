import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorBody } from '../api/errors.js';
import { defaultAssetsDir, loadAssets, type Asset } from './assets.js';
import { SECURITY_HEADERS } from './headers.js';
import { CONSOLE_PREFIX, SESSION_PATH, SIGN_IN_CODES_PATH } from './open-paths.js';
import { ConsoleSessions, cookieHeader, csrfRefusal } from './session.js';
import { SignInCodes } from './sign-in-codes.js';

// The web console on the API's listener: its built pages under /console/, signing in
// (the API token pasted once, or a one-time code from `luma console`) and out. Everything
// the pages show comes from the API's own routes, which accept the session cookie as they
// accept the token (api/auth.ts); nothing here is reachable only from a browser.

export interface ConsoleOptions {
  token: string;
  /** Vite's output; default dist/console-app. Without it the pages answer 404 with how to build them. */
  assetsDir?: string;
}

interface SignInBody {
  token?: unknown;
  code?: unknown;
}

export async function registerConsole(app: FastifyInstance, options: ConsoleOptions): Promise<void> {
  const assetsDir = options.assetsDir ?? defaultAssetsDir();
  const assets = assetsDir === undefined ? new Map<string, Asset>() : await loadAssets(assetsDir);
  const sessions = new ConsoleSessions(options.token);
  const codes = new SignInCodes();
  const tokenDigest = sha256(options.token);

  app.get(CONSOLE_PREFIX, { schema: { hide: true } }, async (_request, reply) => reply.redirect(`${CONSOLE_PREFIX}/`));
  app.get(`${CONSOLE_PREFIX}/*`, { schema: { hide: true } }, async (request, reply) => {
    const wanted = (request.params as { '*': string })['*'] || 'index.html';
    return sendAsset(reply, assets.get(wanted));
  });

  app.post(SESSION_PATH, { schema: { hide: true } }, async (request, reply) => {
    const refusal = csrfRefusal(request) ?? signInRefusal(request.body as SignInBody, tokenDigest, codes);
    if (refusal !== undefined) return reply.code(401).send(errorBody(refusal));
    return reply
      .code(204)
      .header('set-cookie', sessions.setCookie(isHttps(request)))
      .send();
  });
  app.delete(SESSION_PATH, { schema: { hide: true } }, async (request, reply) =>
    reply
      .code(204)
      .header('set-cookie', cookieHeader('', 0, isHttps(request)))
      .send(),
  );

  app.post(
    SIGN_IN_CODES_PATH,
    {
      schema: {
        summary: 'A one-time code for a console sign-in link (`luma console`); valid once, for two minutes',
        response: {
          200: {
            type: 'object',
            properties: { code: { type: 'string' }, expiresAt: { type: 'string' }, path: { type: 'string' } },
          },
        },
      },
    },
    async () => {
      const issued = codes.issue();
      // In the fragment: browsers never send it to a server, so it is in no access log.
      return { ...issued, path: `${CONSOLE_PREFIX}/#code=${issued.code}` };
    },
  );
}

function sendAsset(reply: FastifyReply, asset: Asset | undefined): FastifyReply {
  void reply.headers(SECURITY_HEADERS);
  if (asset === undefined) {
    return reply.code(404).send(errorBody('no such console file (the console is built by `npm run build`)'));
  }
  const cache = asset.immutable ? 'public, max-age=31536000, immutable' : 'no-cache';
  return reply.type(asset.type).header('cache-control', cache).send(asset.body);
}

function signInRefusal(body: SignInBody | undefined, tokenDigest: Buffer, codes: SignInCodes): string | undefined {
  if (typeof body?.token === 'string') {
    const given = sha256(body.token.trim());
    return timingSafeEqual(given, tokenDigest) ? undefined : 'that is not the API token of this Luma';
  }
  if (typeof body?.code === 'string') {
    return codes.redeem(body.code)
      ? undefined
      : 'the sign-in link was used already or has expired: run luma console again';
  }
  return 'send {"token": "..."} (the API token) or {"code": "..."} (from luma console)';
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

function isHttps(request: FastifyRequest): boolean {
  return request.protocol === 'https';
}

function errorBody(message: string): ErrorBody {
  return { error: 'Unauthorized', message };
}
