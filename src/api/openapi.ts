import type { FastifyDynamicSwaggerOptions, SwaggerTransform } from '@fastify/swagger';
import { SESSION_COOKIE } from '../console/session.js';
import { KINDS, type Kind } from '../model/types.js';
import { kindComponents, schemaRef, type JsonSchema } from './openapi-schemas.js';

// The OpenAPI document served at /openapi.json: who may call (the bearer token, the
// console's session cookie), and the schemas of what goes in and comes out. Objects are
// described by the kinds' JSON Schemas (openapi-schemas.ts), which fastify never compiles
// for these routes: a body is validated by the model, with file:line:column messages, and
// an answer is sent as it is, so the document describes without changing what is served.

export type SecurityRequirement = Record<string, string[]>;

export const SECURITY_SCHEMES = {
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    description: 'The API token, in STATE_DIR/api-token on the Luma host (`luma` reads it from --state-dir).',
  },
  consoleSession: {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
    description:
      "The web console's session, set by POST /console/session; a write with it must also send `x-luma-console: 1`.",
  },
  queryToken: {
    type: 'apiKey',
    in: 'query',
    name: 'token',
    description: 'The API token as `?token=`, accepted by the compat routes only (WebSockets cannot set a header).',
  },
} as const;

/** Every route but the open ones: the token, or the console's session standing for it. */
export const API_SECURITY: SecurityRequirement[] = [{ bearerAuth: [] }, { consoleSession: [] }];
/** /healthz and /metrics, which monitors reach without credentials (auth.ts OPEN_PATHS). */
export const NO_SECURITY: SecurityRequirement[] = [];

export function openApiOptions(): FastifyDynamicSwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Luma API',
        version: '0.1.0',
        description: 'Declare apps (the kinds of schemas/) and read their status.',
      },
      components: { securitySchemes: SECURITY_SCHEMES },
      security: API_SECURITY,
    },
    // After every route is described: the kinds and the shared shapes they refer to.
    transformObject: (document) => {
      if (!('openapiObject' in document)) throw new Error('the API document is OpenAPI, never Swagger 2');
      const { openapiObject } = document;
      // Built afresh for each document (then cached by the plugin), so it may be added to in place.
      openapiObject.components ??= {};
      Object.assign((openapiObject.components.schemas ??= {}), sharedComponents());
      return openapiObject;
    },
  };
}

function sharedComponents(): Record<string, JsonSchema> {
  return {
    ...kindComponents(),
    Error: ERROR_SCHEMA,
    ManifestIssue: MANIFEST_ISSUE_SCHEMA,
    LumaObject: ANY_OBJECT_SCHEMA,
  };
}

/** api/errors.ts ErrorBody: what every refusal answers. */
const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', description: 'NotFound, BadRequest, Invalid, Conflict, Terminating, Unauthorized…' },
    message: { type: 'string' },
    issues: {
      description: 'For an invalid manifest: each problem with its position and the field path',
      type: 'array',
      items: schemaRef('ManifestIssue'),
    },
  },
};

/** model/manifest-error.ts ManifestIssue. */
const MANIFEST_ISSUE_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['file', 'line', 'column', 'path', 'message'],
  properties: {
    file: { type: 'string' },
    line: { type: 'integer' },
    column: { type: 'integer' },
    path: { type: 'string', description: 'the field, such as spec.scaling.maxInstances' },
    message: { type: 'string' },
  },
};

const ANY_OBJECT_SCHEMA: JsonSchema = {
  description: 'An object of any kind, told apart by `kind`',
  oneOf: KINDS.map((kind) => schemaRef(kind)),
  discriminator: { propertyName: 'kind' },
};

/** A JSON answer or request body of this schema, described for the document. */
export function json(schema: JsonSchema, description?: string): JsonSchema {
  return { ...(description ? { description } : {}), content: { 'application/json': { schema } } };
}

/** A refusal with the Error body. */
export function refusal(description: string): JsonSchema {
  return json(schemaRef('Error'), description);
}

/** `{"items": [...]}` of one kind, as the list routes answer. */
export function listOf(kind: Kind): JsonSchema {
  return { type: 'object', required: ['items'], properties: { items: { type: 'array', items: schemaRef(kind) } } };
}

export interface RouteDocs {
  body?: JsonSchema;
  response: Record<number, JsonSchema>;
}

/**
 * Route config that adds body and answer schemas to the route's entry in the document
 * only: fastify compiles neither (see the header comment).
 */
export function documented(docs: RouteDocs): { swaggerTransform: SwaggerTransform } {
  return {
    swaggerTransform: ({ schema, url }) => ({
      url,
      schema: { ...schema, ...(docs.body ? { body: docs.body } : {}), response: docs.response },
    }),
  };
}
