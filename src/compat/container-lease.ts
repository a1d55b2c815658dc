import type { FastifyInstance } from 'fastify';
import { API_VERSION, type LeaseObject, type ProjectObject } from '../model/types.js';
import { applyObjects } from './apply-object.js';
import { registerLeaseLogs } from './container-lease-logs.js';
import { originCheck, preflightRoute } from './cors.js';
import { randomId, SYSTEM_LABEL, type CompatContext } from './context.js';
import { badRequest, notFound } from './errors.js';
import { waitForActiveLease } from './lease-wait.js';
import { addRoutes, pathsOf } from './routes.js';

// ContainerLease (seed 003): time-limited containers. `POST /api/provision` becomes a
// Lease on the Project of its imageType (made on first use from the operator's
// compat.containerLease.imageTypes), so the lease bounds (5–120 min, 250m–2000m CPU,
// 256Mi–2Gi by default), the caps, the allowlist and the bill are Luma's own.

const SYSTEM = 'containerLease';
const IMAGE_TYPE_ANNOTATION = 'compat.luma.dev/image-type';

interface ProvisionBody {
  imageType: string;
  durationMinutes: number;
  cpu?: string | number;
  memory?: string | number;
}

const provisionSchema = {
  type: 'object',
  required: ['imageType', 'durationMinutes'],
  properties: {
    imageType: { type: 'string', minLength: 1 },
    durationMinutes: { type: 'integer', description: 'bounded by the operator lease bounds (5–120 by default)' },
    cpu: {
      type: ['string', 'number'],
      description: 'millicores (500) or a quantity (500m); the lease default when absent',
    },
    memory: {
      type: ['string', 'number'],
      description: 'MiB (512) or a quantity (512Mi); the lease default when absent',
    },
  },
} as const;

const containerSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    imageType: { type: 'string' },
    status: { type: 'string', enum: ['pending', 'active', 'expired', 'released', 'failed'] },
    createdAt: { type: 'string' },
    expiryTime: { type: 'string' },
    cpu: { type: 'string' },
    memory: { type: 'string' },
    estimatedCost: { type: 'number' },
    cost: { type: 'number' },
    currency: { type: 'string' },
    url: { type: 'string' },
  },
} as const;

export function registerContainerLease(scope: FastifyInstance, ctx: CompatContext): void {
  const before = [originCheck(ctx.settings.containerLease.allowedOrigins)];
  const ownsBare = ctx.settings.containersApi === SYSTEM;
  const preflights = [
    ...pathsOf(SYSTEM, '/api/provision'),
    ...pathsOf(SYSTEM, '/api/containers', !ownsBare),
    ...pathsOf(SYSTEM, '/api/containers/:id', !ownsBare),
  ];
  for (const url of preflights) preflightRoute(scope, url, before);
  addRoutes(
    scope,
    ctx,
    SYSTEM,
    [
      {
        method: 'POST',
        urls: pathsOf(SYSTEM, '/api/provision'),
        schema: {
          summary: 'ContainerLease: provision a time-limited container (becomes a Lease)',
          body: provisionSchema,
          response: {
            201: {
              type: 'object',
              properties: { id: { type: 'string' }, expiryTime: { type: 'string' }, createdAt: { type: 'string' } },
            },
          },
        },
        handler: async (request, reply) => reply.code(201).send(await provision(ctx, request.body as ProvisionBody)),
      },
      {
        method: 'GET',
        urls: pathsOf(SYSTEM, '/api/containers', !ownsBare),
        schema: {
          summary: 'ContainerLease: every lease it provisioned',
          response: { 200: { type: 'object', properties: { containers: { type: 'array', items: containerSchema } } } },
        },
        handler: async () => ({ containers: leasesOf(ctx).map(containerView) }),
      },
      {
        method: 'DELETE',
        urls: pathsOf(SYSTEM, '/api/containers/:id', !ownsBare),
        schema: {
          summary: 'ContainerLease: end a lease now (its bill is written)',
          response: { 200: { type: 'object', properties: { success: { type: 'boolean' } } } },
        },
        handler: async (request) => {
          const { id } = request.params as { id: string };
          ownLease(ctx, id);
          await ctx.store.delete('Lease', id);
          return { success: true };
        },
      },
    ],
    before,
  );
  registerLeaseLogs(scope, ctx, before, (id) => ownLease(ctx, id));
}

async function provision(ctx: CompatContext, body: ProvisionBody): Promise<Record<string, string>> {
  // Own keys only: "constructor" or "toString" must not find Object.prototype's members.
  const imageTypes = ctx.settings.containerLease.imageTypes;
  const type = Object.hasOwn(imageTypes, body.imageType) ? imageTypes[body.imageType] : undefined;
  if (!type) {
    const known = Object.keys(ctx.settings.containerLease.imageTypes);
    throw badRequest(
      `imageType "${body.imageType}" is not allowed (allowed: ${known.length > 0 ? known.join(', ') : 'none; the operator sets compat.containerLease.imageTypes'})`,
    );
  }
  const project: ProjectObject = {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: `containerlease-${body.imageType}`, labels: { [SYSTEM_LABEL]: SYSTEM } },
    spec: {
      image: type.image,
      hostnames: [`${body.imageType}.${ctx.settings.containerLease.domain}`],
      ...(type.port !== undefined ? { port: type.port } : {}),
      ...(type.command ? { command: type.command } : {}),
    },
  };
  const lease = leaseFor(body, project.metadata.name);
  await applyObjects(ctx, [project, lease], 'POST /api/provision');
  const active = await waitForActiveLease(ctx.store, lease.metadata.name);
  return {
    id: active.metadata.name,
    expiryTime: active.status?.expiresAt ?? '',
    createdAt: active.metadata.creationTimestamp ?? '',
  };
}

function leaseFor(body: ProvisionBody, project: string): LeaseObject {
  const resources = {
    ...(body.cpu !== undefined ? { cpu: typeof body.cpu === 'number' ? `${body.cpu}m` : body.cpu } : {}),
    ...(body.memory !== undefined
      ? { memory: typeof body.memory === 'number' ? `${body.memory}Mi` : body.memory }
      : {}),
  };
  return {
    apiVersion: API_VERSION,
    kind: 'Lease',
    metadata: {
      name: randomId('cl'),
      labels: { [SYSTEM_LABEL]: SYSTEM },
      annotations: { [IMAGE_TYPE_ANNOTATION]: body.imageType },
    },
    spec: {
      project,
      ttl: `${body.durationMinutes}m`,
      ...(Object.keys(resources).length > 0 ? { resources } : {}),
    },
  };
}

function leasesOf(ctx: CompatContext): LeaseObject[] {
  return ctx.store.list('Lease').filter((lease) => lease.metadata.labels?.[SYSTEM_LABEL] === SYSTEM);
}

function ownLease(ctx: CompatContext, id: string): LeaseObject {
  const lease = ctx.store.get('Lease', id);
  if (!lease || lease.metadata.labels?.[SYSTEM_LABEL] !== SYSTEM) throw notFound(`container "${id}" not found`);
  return lease;
}

function containerView(lease: LeaseObject): Record<string, string | number> {
  const status = lease.status ?? {};
  const optional = {
    estimatedCost: status.estimatedCost,
    cost: status.cost,
    currency: status.currency,
    url: status.url,
  };
  return {
    id: lease.metadata.name,
    imageType: lease.metadata.annotations?.[IMAGE_TYPE_ANNOTATION] ?? '',
    status: (status.phase ?? 'Pending').toLowerCase(),
    createdAt: lease.metadata.creationTimestamp ?? '',
    expiryTime: status.expiresAt ?? '',
    cpu: status.resources?.cpu ?? lease.spec.resources?.cpu ?? '',
    memory: status.resources?.memory ?? lease.spec.resources?.memory ?? '',
    ...Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined)),
  };
}
