import type { FastifyInstance } from 'fastify';
import type { ImageObject, ProjectObject } from '../model/types.js';
import { API_VERSION } from '../model/types.js';
import { applyObjects } from './apply-object.js';
import { SYSTEM_LABEL, type CompatContext } from './context.js';
import { badRequest, conflict } from './errors.js';
import { addRoutes, pathsOf } from './routes.js';

// Luma v1 (seed 000): `POST /projects` registers an app. It becomes an Image that pulls
// `docker_image` when it is not on the machine (offline, the Image is Failed with the pull
// error) and a Project on `hostname` that starts on the first request and stops after a
// minute without one, as v1 did.

const SYSTEM = 'v1';
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

interface V1Project {
  name: string;
  docker_image: string;
  env_vars?: Record<string, string>;
  container_port?: number;
  hostname: string;
}

const projectSchema = {
  type: 'object',
  required: ['name', 'docker_image', 'hostname'],
  properties: {
    name: { type: 'string', minLength: 1, description: 'a DNS label: the Project and Image names' },
    docker_image: { type: 'string', minLength: 1 },
    env_vars: { type: 'object', additionalProperties: { type: 'string' } },
    container_port: { type: 'integer', minimum: 1, maximum: 65535, default: 80 },
    hostname: { type: 'string', minLength: 1 },
  },
} as const;

export function registerV1Projects(scope: FastifyInstance, ctx: CompatContext): void {
  addRoutes(scope, ctx, SYSTEM, [
    {
      method: 'POST',
      urls: pathsOf(SYSTEM, '/projects'),
      schema: {
        summary: 'Luma v1: register a project (becomes an Image and a Project)',
        body: projectSchema,
        response: { 201: projectSchema },
      },
      handler: async (request, reply) => {
        const body = request.body as V1Project;
        await registerProject(ctx, body);
        return reply.code(201).send(body);
      },
    },
  ]);
}

async function registerProject(ctx: CompatContext, body: V1Project): Promise<void> {
  if (!DNS_LABEL.test(body.name))
    throw badRequest(`name "${body.name}" must be a DNS label: lower-case letters, digits and dashes, at most 63`);
  if (ctx.store.get('Project', body.name) || ctx.store.get('Image', body.name))
    throw conflict(`a project named "${body.name}" is already registered`);
  const labels = { [SYSTEM_LABEL]: SYSTEM };
  const image: ImageObject = {
    apiVersion: API_VERSION,
    kind: 'Image',
    metadata: { name: body.name, labels },
    spec: { ref: body.docker_image },
  };
  const project: ProjectObject = {
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: body.name, labels },
    spec: {
      image: body.name,
      hostnames: [body.hostname],
      port: body.container_port ?? 80,
      ...(body.env_vars && Object.keys(body.env_vars).length > 0 ? { env: body.env_vars } : {}),
      scaling: { minInstances: 0, maxInstances: 1, idleTimeout: '60s' },
    },
  };
  await applyObjects(ctx, [image, project], 'POST /projects');
}
