import type { FastifyInstance } from 'fastify';
import type { ObjectStore } from '../store/store.js';
import { TerminatingError } from '../store/store.js';
import { NotFoundError } from './errors.js';
import { documented, json, refusal } from './openapi.js';
import { schemaRef } from './openapi-schemas.js';

// `POST /projects/NAME/wake`: start a project as its first request would, without sending
// one (`luma wake`, the console's Wake button). The answer comes at once (202); the
// project's phase tells when it runs, through the watch or `luma wait`.

export interface WakeRouteOptions {
  prefix: string;
  store: ObjectStore;
  /** Hands the project to the controller, which starts it and idles it as after a request. */
  wake: (project: string) => void;
}

export function registerWakeRoutes(app: FastifyInstance, options: WakeRouteOptions): void {
  app.post(
    `${options.prefix}/projects/:name/wake`,
    {
      schema: {
        summary:
          'Start a project as a first request would; its idle timeout runs from now (202, the project as stored)',
      },
      config: documented({
        response: {
          202: json(schemaRef('Project'), 'the Project as stored; its phase tells when it runs'),
          404: refusal('no Project of this name'),
          409: refusal('the Project is being deleted'),
        },
      }),
    },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      const project = options.store.get('Project', name);
      if (!project) throw new NotFoundError(`Project "${name}"`);
      if (project.metadata.deletionTimestamp) throw new TerminatingError('Project', name);
      options.wake(name);
      return reply.code(202).send(project);
    },
  );
}
