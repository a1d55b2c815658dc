import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { MultipartFile } from '@fastify/multipart';
import { ArchiveError } from '../images/archive.js';
import { ContextError } from '../images/context.js';
import { applyObjects } from './apply-object.js';
import type { CompatContext } from './context.js';
import { badRequest, conflict, notFound } from './errors.js';
import {
  containerView,
  imageFor,
  imageView,
  isOrchestratorProject,
  projectFor,
  recordsOf,
  SYSTEM,
  type OrchestratorImage,
} from './orchestrator-model.js';
import { addRoutes, pathsOf } from './routes.js';
import type { ProjectObject } from '../model/types.js';

// The Orchestrator's `/api/images`: a multipart upload (fields and a zip or tar `file`
// with a Dockerfile) becomes an Image built from that context and a Project on
// app_hostname, both through the API's apply path; status and build logs are the Image's.

const NAME = /[^a-z0-9-]+/g;

export function registerOrchestratorImages(scope: FastifyInstance, ctx: CompatContext): void {
  const one = (request: FastifyRequest): ProjectObject =>
    orchestratorProject(ctx, (request.params as { id: string }).id);
  const view = (project: ProjectObject): Record<string, unknown> =>
    imageView(project, ctx.store.get('Image', project.metadata.name));
  addRoutes(scope, ctx, SYSTEM, [
    {
      method: 'POST',
      urls: pathsOf(SYSTEM, '/api/images'),
      schema: {
        summary: 'Orchestrator: upload (multipart) and build an image; becomes an Image and a Project',
        consumes: ['multipart/form-data'],
      },
      handler: async (request, reply) => reply.code(201).send(view(await upload(ctx, request))),
    },
    {
      method: 'GET',
      urls: pathsOf(SYSTEM, '/api/images'),
      schema: { summary: 'Orchestrator: every image' },
      handler: async () => projectsOf(ctx).map(view),
    },
    {
      method: 'GET',
      urls: pathsOf(SYSTEM, '/api/images/with-containers'),
      schema: { summary: 'Orchestrator: every image with its container count' },
      handler: async () => projectsOf(ctx).map((p) => ({ ...view(p), container_count: recordsOf(p).length })),
    },
    {
      method: 'GET',
      urls: pathsOf(SYSTEM, '/api/images/:id'),
      schema: { summary: 'Orchestrator: one image (status, build_logs, source_path)' },
      handler: async (request) => view(one(request)),
    },
    {
      method: 'GET',
      urls: pathsOf(SYSTEM, '/api/images/:id/build-logs'),
      schema: { summary: "Orchestrator: an image's build logs" },
      handler: async (request) => {
        const { id, status, build_logs } = view(one(request));
        return { id, status, build_logs };
      },
    },
    {
      method: 'GET',
      urls: pathsOf(SYSTEM, '/api/images/:id/containers'),
      schema: { summary: "Orchestrator: an image's containers" },
      handler: async (request) => {
        const project = one(request);
        return recordsOf(project).map((record) => containerView(project, record));
      },
    },
    {
      method: 'DELETE',
      urls: pathsOf(SYSTEM, '/api/images/:id'),
      schema: { summary: 'Orchestrator: delete an image (its Project and Image; its containers go with them)' },
      handler: async (request) => {
        const id = one(request).metadata.name;
        await ctx.store.delete('Project', id);
        await ctx.store.delete('Image', id);
        return { message: `image ${id} deleted`, id };
      },
    },
  ]);
}

export function projectsOf(ctx: CompatContext): ProjectObject[] {
  return ctx.store.list('Project').filter(isOrchestratorProject);
}

export function orchestratorProject(ctx: CompatContext, id: string): ProjectObject {
  const project = ctx.store.get('Project', id);
  if (!project || !isOrchestratorProject(project)) throw notFound(`image "${id}" not found`);
  return project;
}

async function upload(ctx: CompatContext, request: FastifyRequest): Promise<ProjectObject> {
  if (!request.isMultipart()) throw badRequest('send multipart/form-data with the fields and a file (zip or tar)');
  const { fields, archive } = await readForm(request);
  const meta = imageFields(fields);
  const id = `${meta.name}-${meta.tag}`
    .toLowerCase()
    .replace(NAME, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 63);
  if (ctx.store.get('Project', id) || ctx.store.get('Image', id))
    throw conflict(`image ${meta.name}:${meta.tag} exists (id ${id})`);
  let digest: string;
  try {
    digest = await ctx.contexts.ingestArchive(archive);
  } catch (error) {
    if (error instanceof ArchiveError || error instanceof ContextError)
      throw badRequest(`file refused: ${error.message}`);
    throw error;
  }
  await applyObjects(ctx, [imageFor(id, digest), projectFor(id, meta, [])], 'POST /api/images');
  return orchestratorProject(ctx, id);
}

async function readForm(request: FastifyRequest): Promise<{ fields: Map<string, string>; archive: Buffer }> {
  const fields = new Map<string, string>();
  let archive: Buffer | undefined;
  for await (const part of request.parts()) {
    if (part.type === 'file') archive = await fileContents(part);
    else fields.set(part.fieldname, String(part.value));
  }
  if (!archive) throw badRequest('the form has no file: add the zip or tar with a Dockerfile as the field "file"');
  return { fields, archive };
}

async function fileContents(part: MultipartFile): Promise<Buffer> {
  if (part.fieldname !== 'file')
    throw badRequest(`unexpected file field "${part.fieldname}"; send the archive as "file"`);
  const buffer = await part.toBuffer();
  if (part.file.truncated) throw badRequest('the file is over the upload limit (operator setting maxUploadBytes)');
  return buffer;
}

function imageFields(fields: Map<string, string>): OrchestratorImage {
  const required = (key: string): string => {
    const value = fields.get(key)?.trim();
    if (!value) throw badRequest(`the field "${key}" is required`);
    return value;
  };
  const whole = (key: string, fallback: number, min: number, max: number): number => {
    const raw = fields.get(key);
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max)
      throw badRequest(`the field "${key}" must be a whole number from ${min} to ${max}, got "${raw}"`);
    return Number(raw);
  };
  const meta: OrchestratorImage = {
    name: required('name'),
    tag: fields.get('tag')?.trim() || 'latest',
    app_hostname: required('app_hostname'),
    container_port: whole('container_port', 8080, 1, 65535),
    min_instances: whole('min_instances', 0, 0, 100),
    max_instances: whole('max_instances', 1, 1, 100),
  };
  if (meta.min_instances > meta.max_instances)
    throw badRequest(`min_instances (${meta.min_instances}) is above max_instances (${meta.max_instances})`);
  const cpu = fields.get('cpu_limit')?.trim();
  const memory = fields.get('memory_limit')?.trim();
  if (cpu) meta.cpu_limit = cpu;
  // Docker's `512m` is 512 MiB; Luma writes 512Mi.
  if (memory)
    meta.memory_limit = memory.replace(/^(\d+)([kmg])b?$/i, (_all, n: string, u: string) => `${n}${u.toUpperCase()}i`);
  return meta;
}
