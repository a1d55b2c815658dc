import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ConsoleSessions, isConsoleOpenPath } from '../console/index.js';
import type { ErrorBody } from './errors.js';

// Every API route needs the token (`Authorization: Bearer TOKEN`) except the ones a
// monitor must reach without credentials. Checked before routing, so an unknown route
// answers 401 too and reveals nothing about what exists. The web console's session
// cookie stands for the token (console/session.ts); a request with a bearer token is
// judged by the token alone.

/** Liveness and metrics: what load balancers and Prometheus scrape. */
export const OPEN_PATHS: ReadonlySet<string> = new Set(['/healthz', '/metrics']);

const HOW_TO =
  'send "Authorization: Bearer TOKEN"; the token is in STATE_DIR/api-token on the Luma host (the CLI reads it from --state-dir / LUMA_STATE_DIR, or takes --token / LUMA_TOKEN)';

/** Why a request is refused, or undefined when it carries the token. */
export function refusalFor(authorization: string | undefined, expectedDigest: Buffer): string | undefined {
  if (authorization === undefined || authorization.trim() === '') return `this API needs a token: ${HOW_TO}`;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match?.[1]) return `the Authorization header must be "Bearer TOKEN": ${HOW_TO}`;
  // Digests have equal lengths, so the comparison takes the same time whatever was sent.
  if (!timingSafeEqual(digest(match[1]), expectedDigest))
    return 'the API token is not valid for this Luma (it is in STATE_DIR/api-token on the Luma host)';
  return undefined;
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export function requireToken(app: FastifyInstance, token: string): void {
  const expected = digest(token);
  const sessions = new ConsoleSessions(token);
  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const pathname = request.url.split('?', 1)[0] ?? '';
    if (OPEN_PATHS.has(pathname) || isConsoleOpenPath(request.method, pathname)) return;
    // Routes that check credentials themselves (src/compat: other clients, other ways to send the token).
    if ((request.routeOptions.config as { ownAuth?: boolean } | undefined)?.ownAuth === true) return;
    const { authorization } = request.headers;
    const refusal =
      authorization === undefined && sessions.carries(request)
        ? sessions.refusalFor(request)
        : refusalFor(authorization, expected);
    if (refusal === undefined) return;
    const body: ErrorBody = { error: 'Unauthorized', message: refusal };
    return reply.code(401).header('www-authenticate', 'Bearer realm="luma"').send(body);
  });
}
