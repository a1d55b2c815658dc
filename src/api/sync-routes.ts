import type { FastifyInstance } from 'fastify';
import type { SyncStatus } from '../sync/sync-status.js';
import { BadRequestError, sendError } from './errors.js';
import { documented, json, refusal } from './openapi.js';
import { schemaRef, type JsonSchema } from './openapi-schemas.js';

// The watched directory through the API: its status (each file's state, issues with
// file:line:column, conflicts, prunes held back) and a pass on demand, `force` lifting
// the prune guards for that one pass.

export interface SyncControl {
  status(): SyncStatus;
  passNow(options: { force?: boolean }): Promise<SyncStatus>;
}

const stringList = { type: 'array', items: { type: 'string' } } as const;

/** sync/sync-status.ts SyncStatus, for the document. */
const syncStatus: JsonSchema = {
  type: 'object',
  required: ['directory', 'exists', 'phase', 'passes', 'files', 'conflicts', 'pruned'],
  properties: {
    directory: { type: 'string', description: 'the directory as given (--manifests)' },
    exists: { type: 'boolean' },
    phase: { type: 'string', enum: ['Pending', 'Synced', 'Degraded'] },
    passes: { type: 'integer' },
    lastPassAt: { type: 'string', format: 'date-time' },
    files: {
      type: 'array',
      items: {
        type: 'object',
        required: ['file', 'state', 'objects'],
        properties: {
          file: { type: 'string', description: 'relative to the watched directory' },
          state: { type: 'string', enum: ['Applied', 'Invalid', 'Failed', 'Writing'] },
          objects: { ...stringList, description: 'Kind/name of what the file declares' },
          issues: { type: 'array', items: schemaRef('ManifestIssue') },
          message: { type: 'string' },
        },
      },
    },
    conflicts: {
      type: 'array',
      items: {
        type: 'object',
        required: ['object', 'files', 'message'],
        properties: { object: { type: 'string' }, files: stringList, message: { type: 'string' } },
      },
    },
    pruned: stringList,
    pruneWaiting: {
      type: 'object',
      required: ['objects', 'until'],
      properties: { objects: stringList, until: { type: 'string', format: 'date-time' } },
    },
    pruneWithheld: {
      type: 'object',
      required: ['objects', 'reason'],
      properties: {
        objects: stringList,
        reason: { type: 'string' },
        retryAt: { type: 'string', format: 'date-time' },
      },
    },
    error: { type: 'string', description: 'a pass that failed as a whole' },
  },
};

export function registerSyncRoutes(app: FastifyInstance, options: { prefix: string; sync: SyncControl }): void {
  app.get(
    `${options.prefix}/sync`,
    {
      schema: {
        summary:
          'The status of the watched manifests directory: per file, its state and issues; conflicts; prunes held back',
      },
      config: documented({ response: { 200: json(syncStatus) } }),
    },
    async () => options.sync.status(),
  );

  app.post(
    `${options.prefix}/sync`,
    {
      schema: {
        summary:
          'Read the manifests directory now; {"force": true} lifts the prune guards (empty directory, maxPruneShare) for this pass',
      },
      config: documented({
        body: json({ type: 'object', additionalProperties: false, properties: { force: { type: 'boolean' } } }),
        response: {
          200: json(syncStatus, 'the status after the pass'),
          400: refusal('a body other than {"force": bool}'),
        },
      }),
    },
    async (request, reply) => {
      // Checked here rather than by the schema: Fastify's validator drops unknown keys and
      // coerces types, and a misspelt `force` must not run an unforced pass silently.
      const body: unknown = request.body ?? {};
      const problem = forceBodyProblem(body);
      if (problem) return sendError(reply, new BadRequestError(problem));
      return options.sync.passNow({ force: (body as { force?: boolean }).force ?? false });
    },
  );
}

function forceBodyProblem(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return 'the body must be a JSON object such as {"force": true}';
  for (const [key, value] of Object.entries(body)) {
    if (key !== 'force') return `unknown field "${key}" in the body (known: force)`;
    if (typeof value !== 'boolean') return `force: expected true or false, got ${JSON.stringify(value)}`;
  }
  return undefined;
}
