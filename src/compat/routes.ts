import type { FastifyInstance, FastifyRequest, FastifySchema, HTTPMethods, RouteHandlerMethod } from 'fastify';
import type { WebSocket } from 'ws';
import type { SecurityRequirement } from '../api/openapi.js';
import { compatAuth, type RouteHook } from './auth.js';
import type { CompatContext } from './context.js';
import type { CompatSystem } from './settings.js';

// How every compat route is declared: the system it belongs to (its OpenAPI tag and its
// authentication), and the paths it answers on (its own prefix, and the bare path the
// earlier system used when no other system claims it).

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route checks credentials itself (src/api/auth.ts lets it through). */
    ownAuth?: boolean;
  }
}

export interface CompatRoute {
  method: HTTPMethods | HTTPMethods[];
  urls: string[];
  schema?: FastifySchema;
  handler: RouteHandlerMethod;
  wsHandler?: (socket: WebSocket, request: FastifyRequest) => void;
  /** Runs before a WebSocket upgrade too, so that a bad request gets an HTTP answer. */
  preValidation?: (request: FastifyRequest) => Promise<void>;
}

/** `before` hooks run ahead of the token check (an origin check must answer a preflight). */
export function addRoutes(
  scope: FastifyInstance,
  ctx: CompatContext,
  system: CompatSystem,
  routes: CompatRoute[],
  before: RouteHook[] = [],
): void {
  const onRequest = [...before, compatAuth(ctx, system)];
  // As compatAuth takes it: the header or ?token=, or nothing for a system made anonymous.
  const security: SecurityRequirement[] = [
    { bearerAuth: [] },
    { queryToken: [] },
    ...(ctx.settings.anonymous.includes(system) ? [{}] : []),
  ];
  for (const route of routes) {
    for (const url of route.urls) {
      scope.route({
        method: route.method,
        url,
        schema: { ...route.schema, tags: [`compat: ${system}`], security },
        config: { ownAuth: true },
        onRequest,
        handler: route.handler,
        ...(route.wsHandler ? { wsHandler: route.wsHandler } : {}),
        ...(route.preValidation ? { preValidation: route.preValidation } : {}),
      });
    }
  }
}

/** Where a system's routes live besides the bare paths: `/<prefix>/api/…`. */
export const SYSTEM_PREFIXES: Record<CompatSystem, string> = {
  v1: '/v1',
  containerPool: '/containerpool',
  containerLease: '/containerlease',
  orchestrator: '/orchestrator',
};

/** The path at its system's prefix and, unless `prefixedOnly`, bare. */
export function pathsOf(system: CompatSystem, path: string, prefixedOnly = false): string[] {
  const prefixed = `${SYSTEM_PREFIXES[system]}${path}`;
  return prefixedOnly ? [prefixed] : [path, prefixed];
}
