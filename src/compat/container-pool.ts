import type { FastifyInstance, FastifyRequest } from 'fastify';
import { API_VERSION, type LeaseObject, type ProjectObject } from '../model/types.js';
import { applyObjects } from './apply-object.js';
import { randomId, SYSTEM_LABEL, type CompatContext } from './context.js';
import { badRequest, CompatError, notFound } from './errors.js';
import { waitForActiveLease } from './lease-wait.js';
import { forward, passBodiesThrough } from './pool-proxy.js';
import { addRoutes, pathsOf } from './routes.js';

// Container pool (seed 002): `POST /container` hands out a ready container. It becomes a
// Lease on the pool Project (compat.containerPool.image, spec.pool.size from
// POOL_TARGET_INSTANCES), claimed from Luma's pool when one is ready and started when
// not; `/container/{id}/…` reaches it; `GET /openapi` is Luma's OpenAPI document.

const SYSTEM = 'containerPool';
export const POOL_PROJECT = 'container-pool';
const LOCATIONS = ['wnam', 'enam', 'sam', 'weur', 'eeur', 'apac', 'oc', 'afr', 'me'];

interface ContainerBody {
  location?: string;
  maxLifetimeInSeconds?: number;
}

export async function registerContainerPool(scope: FastifyInstance, ctx: CompatContext): Promise<void> {
  addRoutes(scope, ctx, SYSTEM, [
    {
      method: 'POST',
      urls: pathsOf(SYSTEM, '/container'),
      schema: {
        summary: 'Container pool: get a container (a Lease claimed from the pool project)',
        body: {
          type: 'object',
          properties: {
            location: {
              type: 'string',
              description: `recorded on the Lease (one machine here): ${LOCATIONS.join(', ')}`,
            },
            maxLifetimeInSeconds: { type: 'integer', minimum: 1, description: "the Lease's ttl" },
          },
        },
        response: { 200: { type: 'object', properties: { id: { type: 'string' } } } },
      },
      handler: async (request) => ({ id: await claim(ctx, (request.body ?? {}) as ContainerBody) }),
    },
    {
      method: 'GET',
      urls: pathsOf(SYSTEM, '/openapi'),
      schema: { summary: 'The OpenAPI 3.1 document of this API (Luma and the compat routes)' },
      handler: async () => ({ ...(scope.swagger() as object), openapi: '3.1.0' }),
    },
  ]);
  // Proxied bodies are any type, unread: a scope of their own keeps JSON parsing elsewhere.
  await scope.register(async (proxyScope) => {
    await passBodiesThrough(proxyScope);
    const handler = async (request: FastifyRequest, reply: Parameters<typeof forward>[1]): Promise<void> => {
      const { id } = request.params as { id: string };
      await forward(request, reply, poolLease(ctx, id), ctx.token);
    };
    const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
    addRoutes(proxyScope, ctx, SYSTEM, [
      {
        method: [...methods],
        urls: pathsOf(SYSTEM, '/container/:id'),
        schema: { summary: 'Container pool: proxied to the container' },
        handler,
      },
      { method: [...methods], urls: pathsOf(SYSTEM, '/container/:id/*'), schema: { hide: true }, handler },
    ]);
  });
}

async function claim(ctx: CompatContext, body: ContainerBody): Promise<string> {
  const pool = ctx.settings.containerPool;
  if (!pool.image)
    throw new CompatError(503, 'the container pool has no image: the operator sets compat.containerPool.image');
  const project: ProjectObject = {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: POOL_PROJECT, labels: { [SYSTEM_LABEL]: SYSTEM } },
    spec: { image: pool.image, hostnames: [pool.hostname], port: pool.port, pool: { size: pool.targetInstances } },
  };
  const lifetime = body.maxLifetimeInSeconds ?? pool.defaultLifetimeSeconds;
  if (body.location !== undefined && !LOCATIONS.includes(body.location))
    throw badRequest(`location "${body.location}" is not one of ${LOCATIONS.join(', ')}`);
  const lease: LeaseObject = {
    apiVersion: API_VERSION,
    kind: 'Lease',
    metadata: {
      name: randomId('pool'),
      labels: { [SYSTEM_LABEL]: SYSTEM },
      annotations: {
        'compat.luma.dev/max-lifetime-seconds': String(lifetime),
        ...(body.location !== undefined ? { 'compat.luma.dev/location': body.location } : {}),
      },
    },
    spec: { project: POOL_PROJECT, ttl: `${lifetime}s` },
  };
  await applyObjects(ctx, [project, lease], 'POST /container');
  return (await waitForActiveLease(ctx.store, lease.metadata.name)).metadata.name;
}

function poolLease(ctx: CompatContext, id: string): LeaseObject {
  const lease = ctx.store.get('Lease', id);
  if (!lease || lease.metadata.labels?.[SYSTEM_LABEL] !== SYSTEM) throw notFound(`container "${id}" not found`);
  return lease;
}
