import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RouteHook } from './auth.js';

// ContainerLease's CORS enforcement and origin validation: a request that carries an
// Origin (every browser call, WebSocket upgrades included) is answered only when that
// origin is in the operator setting compat.containerLease.allowedOrigins; calls without
// one (curl, scripts) are not browser calls and pass. Preflights are answered here.

const ALLOWED_METHODS = 'GET, POST, DELETE, OPTIONS';
const ALLOWED_HEADERS = 'authorization, content-type';

export function originCheck(allowedOrigins: readonly string[]): RouteHook {
  const allowed = new Set(allowedOrigins);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = request.headers.origin;
    if (origin === undefined) return undefined;
    if (!allowed.has(origin)) {
      const list = allowed.size === 0 ? 'none is allowed' : `allowed: ${[...allowed].join(', ')}`;
      return reply.code(403).send({
        error: `origin ${origin} is not allowed (${list}; operator setting compat.containerLease.allowedOrigins)`,
      });
    }
    void reply.header('access-control-allow-origin', origin).header('vary', 'Origin');
    return undefined;
  };
}

/** `OPTIONS` on each path: the origin check above has already refused or allowed it. */
export function preflightRoute(scope: FastifyInstance, url: string, before: RouteHook[]): void {
  scope.route({
    method: 'OPTIONS',
    url,
    config: { ownAuth: true },
    schema: { hide: true },
    onRequest: before,
    handler: async (_request, reply) =>
      reply
        .code(204)
        .header('access-control-allow-methods', ALLOWED_METHODS)
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', '600')
        .send(),
  });
}
