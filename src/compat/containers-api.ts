import type { FastifyInstance } from 'fastify';
import type { CompatContext } from './context.js';
import { CompatError } from './errors.js';
import { SYSTEM_PREFIXES } from './routes.js';

// `/api/containers` belongs to two earlier systems: ContainerLease (GET the list, DELETE
// one) and the Orchestrator (create from an image, get, start, stop, delete). Each always
// answers under its own prefix; the bare path goes to the one the operator setting
// compat.containersApi names. Without that setting the bare path is refused, with where
// to go instead, rather than guessed from the method or the shape of the id.

export const CONTAINERS_PATHS = ['/api/containers', '/api/containers/*'];

export function ambiguityMessage(): string {
  return [
    '/api/containers is served by two systems on this Luma:',
    `ContainerLease at ${SYSTEM_PREFIXES.containerLease}/api/containers and`,
    `the Orchestrator at ${SYSTEM_PREFIXES.orchestrator}/api/containers;`,
    'use one of those paths, or have the operator set compat.containersApi to containerLease or orchestrator',
  ].join(' ');
}

/** Only when no system owns the bare path: each owner registers it itself otherwise. */
export function registerContainersApiRule(scope: FastifyInstance, ctx: CompatContext): void {
  if (ctx.settings.containersApi !== undefined) return;
  for (const url of CONTAINERS_PATHS) {
    scope.route({
      method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
      url,
      // Nothing is revealed and nothing changes: the message is for clients of either system.
      config: { ownAuth: true },
      schema: { hide: true },
      handler: async () => {
        throw new CompatError(409, ambiguityMessage());
      },
    });
  }
}
