import type { FastifyInstance } from 'fastify';
import { applyDocuments, parseFiles, type ManifestFile } from '../apply/apply.js';
import { uploadedContextResolver } from '../apply/context-resolvers.js';
import { parseManifests, type ParsedDocument } from '../model/parse.js';
import { isTrue, type ApiOptions } from './api-options.js';
import { KINDS } from '../model/types.js';
import { documented, json, refusal } from './openapi.js';
import { schemaRef } from './openapi-schemas.js';
import type { ApplyReport } from './wire.js';

// POST /apply (manifest text) and POST /apply/files (several files, all or nothing):
// the same validation and admission as the CLI and the watched directory.

type ApplyOptions = Pick<ApiOptions, 'store' | 'admission' | 'contexts' | 'secrets'>;

/** wire.ts ApplyReport, for the document (fastify sends the report as it is). */
const applyReport = {
  type: 'object',
  required: ['dryRun', 'results'],
  properties: {
    dryRun: { type: 'boolean' },
    results: {
      type: 'array',
      items: {
        type: 'object',
        required: ['kind', 'name', 'result'],
        properties: {
          kind: { type: 'string', enum: [...KINDS] },
          name: { type: 'string' },
          result: { type: 'string', enum: ['created', 'configured', 'unchanged'] },
          object: { description: 'dry runs only: the object as it would be stored', ...schemaRef('LumaObject') },
          live: {
            description: 'dry runs only: the object as it is stored now (null when it would be created)',
            oneOf: [schemaRef('LumaObject'), { type: 'null' }],
          },
        },
      },
    },
  },
};

const applyAnswers = {
  200: json(applyReport, 'what each document did (or would do, in a dry run)'),
  409: refusal('a metadata.resourceVersion is stale, or an object is being deleted'),
  422: refusal("a document is invalid or refused by the operator's rules: `issues` says where"),
};

/** Multi-document YAML as text, or one object as JSON. */
const manifestsBody = {
  content: {
    'application/yaml': { schema: { type: 'string', description: 'one or more YAML documents' } },
    'application/json': { schema: schemaRef('LumaObject') },
  },
};

const applyFilesBody = {
  type: 'object',
  required: ['files'],
  properties: {
    dryRun: { type: 'boolean' },
    contexts: {
      description:
        'Build contexts uploaded to POST /contexts for Image documents: file, 0-based document index, digest',
      type: 'array',
      items: {
        type: 'object',
        required: ['file', 'document', 'digest'],
        properties: { file: { type: 'string' }, document: { type: 'integer' }, digest: { type: 'string' } },
      },
    },
    files: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path', 'content'],
        properties: { path: { type: 'string' }, content: { type: 'string' } },
      },
    },
  },
} as const;

interface ApplyFilesBody {
  files: ManifestFile[];
  dryRun?: boolean;
  contexts?: Array<{ file: string; document: number; digest: string }>;
}

export function registerApplyRoutes(app: FastifyInstance, options: ApplyOptions): void {
  app.post(
    '/apply',
    {
      schema: {
        summary: 'Apply multi-document YAML (or JSON) manifests',
        querystring: {
          type: 'object',
          properties: {
            source: { type: 'string', description: 'the name errors give the manifests (file:line:column)' },
            dryRun: { type: 'string', description: 'true: validate and answer, store nothing' },
          },
        },
      },
      config: documented({ body: manifestsBody, response: applyAnswers }),
    },
    async (request) => {
      const query = request.query as { source?: string; dryRun?: string };
      const text = typeof request.body === 'string' ? request.body : JSON.stringify(request.body ?? '');
      const documents = parseManifests(text, query.source ?? 'request body');
      return applyAndReport(options, documents, isTrue(query.dryRun), new Map());
    },
  );

  app.post(
    '/apply/files',
    {
      schema: {
        summary: 'Apply several manifest files at once; all or nothing',
        body: applyFilesBody,
      },
      config: documented({ response: applyAnswers }),
    },
    async (request) => {
      const body = request.body as ApplyFilesBody;
      const uploads = new Map(
        (body.contexts ?? []).map((context) => [`${context.file}#${context.document}`, context.digest]),
      );
      return applyAndReport(options, parseFiles(body.files), body.dryRun ?? false, uploads);
    },
  );
}

/** A dry run also answers what is stored now and what would be, which is what `luma diff` shows. */
async function applyAndReport(
  options: ApplyOptions,
  documents: ParsedDocument[],
  dryRun: boolean,
  uploads: Map<string, string>,
): Promise<ApplyReport> {
  const { store } = options;
  const live = dryRun ? documents.map((doc) => store.get(doc.object.kind, doc.object.metadata.name) ?? null) : [];
  const applied = await applyDocuments(store, documents, {
    settings: options.admission,
    dryRun,
    resolveContext: uploadedContextResolver(options.contexts, uploads, { dryRun }),
    ...(options.secrets ? { secrets: options.secrets } : {}),
  });
  return {
    dryRun,
    results: applied.map(({ kind, name, result, object }, index) => ({
      kind,
      name,
      result,
      ...(dryRun ? { object, live: live[index] ?? null } : {}),
    })),
  };
}
