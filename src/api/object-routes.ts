import type { FastifyInstance } from 'fastify';
import { applyDocuments } from '../apply/apply.js';
import { uploadedContextResolver } from '../apply/context-resolvers.js';
import { parseManifests } from '../model/parse.js';
import { KIND_PLURALS, KINDS, type Kind, type LumaObject } from '../model/types.js';
import type { ApiOptions } from './api-options.js';
import { BadRequestError, NotFoundError } from './errors.js';
import { renewLease } from './lease-renewal.js';
import { documented, json, refusal } from './openapi.js';
import { schemaRef, type JsonSchema } from './openapi-schemas.js';
import { API_PREFIX } from './wire.js';

// One object at a time under /api/v1alpha1/PLURAL/NAME: get, create or replace (with
// the same validation and admission as an apply), delete, and a lease's renewal. Each
// kind has routes of its own, so the OpenAPI document types each. Lists of known kinds
// are in watch-routes.ts; the list route here only answers for unknown ones.

type ObjectOptions = Pick<ApiOptions, 'store' | 'admission' | 'contexts' | 'secrets'>;

function unknownKind(plural: string): NotFoundError {
  return new NotFoundError(`resource type "${plural}" (known: ${KINDS.map((kind) => KIND_PLURALS[kind]).join(', ')})`);
}

export function registerObjectRoutes(app: FastifyInstance, options: ObjectOptions): void {
  // A static path per kind, so that the document gives each its own request and answer schemas.
  for (const kind of KINDS) {
    registerGet(app, options, kind);
    registerPut(app, options, kind);
    registerDelete(app, options, kind);
  }
  registerUnknownKinds(app);
  registerLeaseRenewal(app, options);
}

const nameParams = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', description: "the object's metadata.name" } },
} as const;

const urlOf = (kind: Kind): string => `${API_PREFIX}/${KIND_PLURALS[kind]}/:name`;
const notFound = (kind: Kind): JsonSchema => refusal(`no ${kind} of this name`);

function registerGet(app: FastifyInstance, options: ObjectOptions, kind: Kind): void {
  app.get(
    urlOf(kind),
    {
      schema: { summary: `Get one ${kind}`, operationId: `get${kind}`, params: nameParams },
      config: documented({ response: { 200: json(schemaRef(kind), `the ${kind} as stored`), 404: notFound(kind) } }),
    },
    async (request) => {
      const { name } = request.params as { name: string };
      const found = options.store.get(kind, name);
      if (!found) throw new NotFoundError(`${kind} "${name}"`);
      return found;
    },
  );
}

function registerPut(app: FastifyInstance, options: ObjectOptions, kind: Kind): void {
  app.put(
    urlOf(kind),
    {
      schema: {
        summary: `Create or replace one ${kind} (JSON); honours metadata.resourceVersion`,
        operationId: `put${kind}`,
        params: nameParams,
      },
      config: documented({
        body: json(schemaRef(kind)),
        response: {
          200: json(schemaRef(kind), `the ${kind} as stored`),
          400: refusal('the body is not one object, or names another object than the path'),
          409: refusal('metadata.resourceVersion is stale, or the object is being deleted'),
          422: refusal("invalid, or refused by the operator's rules: `issues` says where"),
        },
      }),
    },
    async (request) => putObject(options, { kind, name: (request.params as { name: string }).name }, request.body),
  );
}

function registerDelete(app: FastifyInstance, options: ObjectOptions, kind: Kind): void {
  app.delete(
    urlOf(kind),
    {
      schema: {
        summary: `Delete one ${kind}`,
        operationId: `delete${kind}`,
        params: nameParams,
        querystring: { type: 'object', properties: { resourceVersion: { type: 'string' } } },
      },
      config: documented({
        response: {
          200: json(schemaRef(kind), 'the object deleted, or marked for deletion (metadata.deletionTimestamp)'),
          404: notFound(kind),
          409: refusal('resourceVersion is stale'),
        },
      }),
    },
    async (request) => {
      const { name } = request.params as { name: string };
      const { resourceVersion } = request.query as { resourceVersion?: string };
      const deleted = await options.store.delete(kind, name, resourceVersion !== undefined ? { resourceVersion } : {});
      if (!deleted) throw new NotFoundError(`${kind} "${name}"`);
      return deleted;
    },
  );
}

/** Every known kind has its static routes above; these answer the others with what exists. */
function registerUnknownKinds(app: FastifyInstance): void {
  const unknown = async (request: { params: unknown }): Promise<never> => {
    throw unknownKind((request.params as { plural: string }).plural);
  };
  app.get(`${API_PREFIX}/:plural`, { schema: { hide: true } }, unknown);
  app.route({
    method: ['GET', 'PUT', 'DELETE'],
    url: `${API_PREFIX}/:plural/:name`,
    schema: { hide: true },
    handler: unknown,
  });
}

function registerLeaseRenewal(app: FastifyInstance, options: ObjectOptions): void {
  app.post(
    `${API_PREFIX}/leases/:name/renew`,
    {
      schema: {
        summary: "Extend an Active lease's expiry (never past leases.maxTtl from its start)",
        params: nameParams,
        body: {
          type: 'object',
          required: ['extend'],
          properties: { extend: { type: 'string', description: 'a duration such as 10m' } },
        },
      },
      config: documented({
        response: {
          200: json(schemaRef('Lease'), 'the Lease with its new expiry'),
          404: refusal('no Lease of this name'),
          409: refusal('the Lease is not Active'),
          422: refusal('past leases.maxTtl from its start, or not a duration'),
        },
      }),
    },
    async (request) => {
      const { name } = request.params as { name: string };
      return renewLease(options.store, name, (request.body as { extend?: unknown }).extend, options.admission);
    },
  );
}

/** The body must be the one object the path names. */
async function putObject(
  options: ObjectOptions,
  { kind, name }: { kind: Kind; name: string },
  body: unknown,
): Promise<LumaObject> {
  const documents = parseManifests(JSON.stringify(body ?? null, null, 2), `${KIND_PLURALS[kind]}/${name}`);
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
