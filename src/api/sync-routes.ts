import type { FastifyInstance } from 'fastify';
import type { SyncStatus } from '../sync/sync-status.js';
import { BadRequestError, sendError } from './errors.js';

// The watched directory through the API: its status (each file's state, issues with
// file:line:column, conflicts, prunes held back) and a pass on demand, `force` lifting
// the prune guards for that one pass.

export interface SyncControl {
  status(): SyncStatus;
  passNow(options: { force?: boolean }): Promise<SyncStatus>;
}

export function registerSyncRoutes(app: FastifyInstance, options: { prefix: string; sync: SyncControl }): void {
  app.get(
    `${options.prefix}/sync`,
    {
      schema: {
        summary:
          'The status of the watched manifests directory: per file, its state and issues; conflicts; prunes held back',
      },
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
