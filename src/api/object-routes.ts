import type { FastifyInstance } from 'fastify';
import { applyDocuments } from '../apply/apply.js';
import { uploadedContextResolver } from '../apply/context-resolvers.js';
import { parseManifests } from '../model/parse.js';
import { KIND_PLURALS, KINDS, type Kind, type LumaObject } from '../model/types.js';
import type { ApiOptions } from './api-options.js';
import { BadRequestError, NotFoundError } from './errors.js';
import { renewLease } from './lease-renewal.js';
import { API_PREFIX } from './wire.js';

// One object at a time under /api/v1alpha1/PLURAL/NAME: get, create or replace (with
// the same validation and admission as an apply), delete, and a lease's renewal. Lists
// of known kinds are in watch-routes.ts; the list route here only answers for unknown ones.

type ObjectOptions = Pick<ApiOptions, 'store' | 'admission' | 'contexts' | 'secrets'>;

const PLURAL_TO_KIND = new Map<string, Kind>(KINDS.map((kind) => [KIND_PLURALS[kind], kind]));

function kindOf(plural: string): Kind {
  const kind = PLURAL_TO_KIND.get(plural);
  if (!kind) throw new NotFoundError(`resource type "${plural}" (known: ${[...PLURAL_TO_KIND.keys()].join(', ')})`);
  return kind;
}

interface ObjectParams {
  plural: string;
  name: string;
}

export function registerObjectRoutes(app: FastifyInstance, options: ObjectOptions): void {
  const { store } = options;
  app.get(`${API_PREFIX}/:plural`, { schema: { hide: true } }, async (request) => {
    const { plural } = request.params as { plural: string };
    return { items: store.list(kindOf(plural)) };
  });

  app.get(`${API_PREFIX}/:plural/:name`, { schema: { summary: 'Get one object' } }, async (request) => {
    const { plural, name } = request.params as ObjectParams;
    const kind = kindOf(plural);
    const object = store.get(kind, name);
    if (!object) throw new NotFoundError(`${kind} "${name}"`);
    return object;
  });

  app.put(
    `${API_PREFIX}/:plural/:name`,
    { schema: { summary: 'Create or replace one object (JSON); honours metadata.resourceVersion' } },
    async (request) => putObject(options, request.params as ObjectParams, request.body),
  );

  app.post(
    `${API_PREFIX}/leases/:name/renew`,
    {
      schema: {
        summary: "Extend an Active lease's expiry (never past leases.maxTtl from its start)",
        body: {
          type: 'object',
          required: ['extend'],
          properties: { extend: { type: 'string', description: 'a duration such as 10m' } },
        },
      },
    },
    async (request) => {
      const { name } = request.params as { name: string };
      return renewLease(store, name, (request.body as { extend?: unknown }).extend, options.admission);
    },
  );

  app.delete(
    `${API_PREFIX}/:plural/:name`,
    {
      schema: {
        summary: 'Delete one object',
        querystring: { type: 'object', properties: { resourceVersion: { type: 'string' } } },
      },
    },
    async (request) => {
      const { plural, name } = request.params as ObjectParams;
      const { resourceVersion } = request.query as { resourceVersion?: string };
      const kind = kindOf(plural);
      const deleted = await store.delete(kind, name, resourceVersion !== undefined ? { resourceVersion } : {});
      if (!deleted) throw new NotFoundError(`${kind} "${name}"`);
      return deleted;
    },
  );
}

/** The body must be the one object the path names. */
async function putObject(options: ObjectOptions, { plural, name }: ObjectParams, body: unknown): Promise<LumaObject> {
  const kind = kindOf(plural);
  const documents = parseManifests(JSON.stringify(body ?? null, null, 2), `${plural}/${name}`);
  const [document] = documents;
  if (documents.length !== 1 || !document) throw new BadRequestError('the body must be exactly one object');
  if (document.object.kind !== kind || document.object.metadata.name !== name) {
    throw new BadRequestError(
      `the body declares ${document.object.kind} "${document.object.metadata.name}" but the path names ${kind} "${name}"`,
    );
  }
  const [applied] = await applyDocuments(options.store, documents, {
    settings: options.admission,
    resolveContext: uploadedContextResolver(options.contexts, new Map()),
    ...(options.secrets ? { secrets: options.secrets } : {}),
  });
  if (!applied) throw new Error(`applying ${kind} "${name}" gave no result`);
  return applied.object;
}
