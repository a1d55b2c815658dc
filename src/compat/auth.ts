import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { refusalFor } from '../api/auth.js';
import type { CompatContext } from './context.js';
import type { CompatSystem } from './settings.js';

// Luma's API token on the compat routes, taken the ways those clients can send it: the
// `Authorization: Bearer` header (curl, fetch), or `?token=` where a browser cannot set a
// header (a WebSocket). A system listed in the operator setting compat.anonymous answers
// without a token, as it did before Luma; none is by default.

export type RouteHook = (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;

export function compatAuth(ctx: CompatContext, system: CompatSystem): RouteHook {
  const expected = createHash('sha256').update(ctx.token).digest();
  const anonymous = ctx.settings.anonymous.includes(system);
  return async (request, reply) => {
    // Every method needs the token, OPTIONS too: the container pool's proxy forwards an
    // OPTIONS to the container like any other. CORS preflights have routes of their own
    // (cors.ts preflightRoute), which do not run this hook.
    if (anonymous) return undefined;
    const refusal = refusalFor(authorizationOf(request), expected);
    if (refusal === undefined) return undefined;
    return reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="luma"')
      .send({ error: `${refusal}; or add ?token=TOKEN (WebSockets), or list ${system} in compat.anonymous` });
  };
}

function authorizationOf(request: FastifyRequest): string | undefined {
  const { token } = request.query as { token?: unknown };
  if (request.headers.authorization === undefined && typeof token === 'string') return `Bearer ${token}`;
  return request.headers.authorization;
}
