import type { FastifyInstance, FastifyRequest } from 'fastify';
import { applyObject } from './apply-object.js';
import { randomId, type CompatContext } from './context.js';
import { conflict, notFound } from './errors.js';
import { orchestratorProject, projectsOf } from './orchestrator-images.js';
import {
  containerView,
  imageMeta,
  imageStatus,
  projectFor,
  recordsOf,
  SYSTEM,
  type ContainerRecord,
} from './orchestrator-model.js';
import { addRoutes, pathsOf } from './routes.js';
import type { ProjectObject } from '../model/types.js';

// The Orchestrator's `/api/containers`: each call rewrites the records on the image's
// Project and its minInstances through the API's apply path; max_instances is enforced
// here (records) and by Luma (maxInstances). Under /orchestrator always, bare only when
// compat.containersApi is orchestrator (containers-api.ts).

type Change = (records: ContainerRecord[], id: string) => ContainerRecord[];

export function registerOrchestratorContainers(scope: FastifyInstance, ctx: CompatContext): void {
  const prefixedOnly = ctx.settings.containersApi !== SYSTEM;
  const paths = (path: string): string[] => pathsOf(SYSTEM, path, prefixedOnly);
  const lifecycle = (summary: string, change: Change) => async (request: FastifyRequest) => {
    const { id } = request.params as { id: string };
    const { project, record } = findContainer(ctx, id);
    const updated = await rewrite(ctx, project, change(recordsOf(project), record.id));
    const after = recordsOf(updated).find((r) => r.id === id);
    return after ? containerView(updated, after) : { message: `${summary}: ${id}`, id };
  };
  const setStatus =
    (status: ContainerRecord['status']): Change =>
    (records, id) =>
      records.map((r) => (r.id === id ? { ...r, status } : r));
  addRoutes(scope, ctx, SYSTEM, [
    {
      method: 'POST',
      urls: paths('/api/containers/:id'),
      schema: { summary: 'Orchestrator: create (and start) a container from an image; max_instances enforced' },
      handler: async (request, reply) => {
        const project = orchestratorProject(ctx, (request.params as { id: string }).id);
        return reply.code(201).send(await create(ctx, project));
      },
    },
    {
      method: 'GET',
      urls: [...paths('/api/containers'), ...paths('/api/containers/')],
      schema: { summary: 'Orchestrator: every container' },
      handler: async () => projectsOf(ctx).flatMap((p) => recordsOf(p).map((r) => containerView(p, r))),
    },
    {
      method: 'GET',
      urls: paths('/api/containers/:id'),
      schema: { summary: 'Orchestrator: one container' },
      handler: async (request) => {
        const { project, record } = findContainer(ctx, (request.params as { id: string }).id);
        return containerView(project, record);
      },
    },
    { method: 'POST', urls: paths('/api/containers/:id/start'), handler: lifecycle('started', setStatus('running')) },
    { method: 'POST', urls: paths('/api/containers/:id/stop'), handler: lifecycle('stopped', setStatus('stopped')) },
    {
      method: 'DELETE',
      urls: paths('/api/containers/:id'),
      handler: lifecycle('deleted', (records, id) => records.filter((r) => r.id !== id)),
    },
  ]);
}

async function create(ctx: CompatContext, project: ProjectObject): Promise<Record<string, unknown>> {
  const id = project.metadata.name;
  const status = imageStatus(ctx.store.get('Image', id));
  if (status !== 'ready') throw conflict(`image ${id} is ${status}; containers are made from ready images`);
  const meta = imageMeta(project);
  const records = recordsOf(project);
  if (records.length >= meta.max_instances)
    throw conflict(`image ${id} has ${records.length} containers, its max_instances (${meta.max_instances})`);
  const record: ContainerRecord = {
    id: randomId(id.slice(0, 50)),
    status: 'running',
    created_at: new Date(ctx.clock.now()).toISOString(),
  };
  const updated = await rewrite(ctx, project, [...records, record]);
  return containerView(updated, record);
}

async function rewrite(ctx: CompatContext, project: ProjectObject, records: ContainerRecord[]): Promise<ProjectObject> {
  const id = project.metadata.name;
  await applyObject(ctx, projectFor(id, imageMeta(project), records), 'orchestrator /api/containers');
  return orchestratorProject(ctx, id);
}

function findContainer(ctx: CompatContext, id: string): { project: ProjectObject; record: ContainerRecord } {
  for (const project of projectsOf(ctx)) {
    const record = recordsOf(project).find((r) => r.id === id);
    if (record) return { project, record };
  }
  throw notFound(`container "${id}" not found`);
}
