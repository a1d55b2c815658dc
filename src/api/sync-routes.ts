import type { FastifyInstance } from 'fastify';
import type { SyncStatus } from '../sync/sync-status.js';

// The watched directory through the API: its status (each file's state, issues with
// file:line:column, conflicts, prunes held back) and a pass on demand, `force` lifting
// the prune guards for that one pass.

export interface SyncControl {
  status(): SyncStatus;
  passNow(options: { force?: boolean }): Promise<SyncStatus>;
}

export function registerSyncRoutes(app: FastifyInstance, options: { prefix: string; sync: SyncControl }): void {
  app.get(`${options.prefix}/sync`, { schema: { summary: 'The status of the watched manifests directory: per file, its state and issues; conflicts; prunes held back' } }, async () =>
    options.sync.status(),
  );

  app.post(
    `${options.prefix}/sync`,
    {
      schema: {
        summary: 'Read the manifests directory now; {"force": true} lifts the prune guards (empty directory, maxPruneShare) for this pass',
        body: { type: 'object', nullable: true, properties: { force: { type: 'boolean' } }, additionalProperties: false },
      },
    },
    async (request) => {
      const body = (request.body ?? {}) as { force?: boolean };
      return options.sync.passNow({ force: body.force ?? false });
    },
  );
}
