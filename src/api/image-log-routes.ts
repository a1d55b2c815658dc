import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { LogHub } from '../logs/log-hub.js';
import { isTrue, type ApiOptions } from './api-options.js';
import { NotFoundError } from './errors.js';
import { documented, refusal } from './openapi.js';
import { API_PREFIX } from './wire.js';

// GET /images/NAME/log: the output of an Image's current or last build, followed until
// the build ends with ?follow=true.

export function registerImageLogRoutes(app: FastifyInstance, options: Pick<ApiOptions, 'store' | 'logs'>): void {
  app.get(
    `${API_PREFIX}/images/:name/log`,
    {
      schema: {
        summary: 'The output of the current or last build; ?follow=true streams it until the build ends',
        querystring: { type: 'object', properties: { follow: { type: 'string' } } },
      },
      config: documented({
        response: {
          200: { description: 'the build output', content: { 'text/plain': { schema: { type: 'string' } } } },
          404: refusal('no Image of this name'),
        },
      }),
    },
    async (request, reply) => {
      const { name } = request.params as { name: string };
      const { follow } = request.query as { follow?: string };
      const image = options.store.get('Image', name);
      if (!image) throw new NotFoundError(`Image "${name}"`);
      const key = `image/${name}`;
      const recent = options.logs.recent(key) || image.status?.buildLog || '';
      if (!isTrue(follow) || !options.logs.isRunning(key)) {
        return reply.type('text/plain; charset=utf-8').send(recent);
      }
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
      reply.raw.write(recent);
      await followBuild(options.logs, key, reply.raw);
      return reply;
    },
  );
}

/** Until the build ends (the response ends too) or the client goes. */
function followBuild(logs: LogHub, key: string, res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const unsubscribe = logs.subscribe(key, (event) => {
      if (event.type === 'text') res.write(event.text);
      else {
        unsubscribe();
        res.end();
        resolve();
      }
    });
    res.on('close', () => {
      unsubscribe();
      resolve();
    });
  });
}
