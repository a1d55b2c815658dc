import type { FastifyInstance } from 'fastify';
import { NO_SECURITY } from '../api/openapi.js';
import { pathsOf } from './routes.js';

// Container pool (seed 002): `GET /studio` opened its state browser. Luma's is the web
// console's Studio view, a hash route of the console's single page (branch i20-console:
// console/src/router.ts), so /studio is a redirect there. Open without a token, as the
// console's pages are: a browser following a link sends none, and the redirect says
// nothing; the console asks for the token itself. Until the console is merged, the
// target answers 404.

export const STUDIO_URL = '/console/#/studio';

export function registerStudio(scope: FastifyInstance): void {
  for (const url of pathsOf('containerPool', '/studio')) {
    scope.get(
      url,
      {
        schema: {
          summary: "Container pool: the state browser (the web console's Studio)",
          tags: ['compat: containerPool'],
          security: NO_SECURITY,
        },
        config: { ownAuth: true },
      },
      async (_request, reply) => reply.redirect(STUDIO_URL, 302),
    );
  }
}
