import http from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LeaseObject } from '../model/types.js';
import { CompatError } from './errors.js';

// The container pool's `/container/{id}/…` (any method): forwarded, body streamed both
// ways, to the lease's own hostname on Luma's public listener, so the request takes the
// proxy's path (activity, limits, logs) like any other. The answer carries X-Container-ID.

/** Where the proxy answers for a lease: from its status.url (`http://<lease>.<host>:<port>/`). */
function upstreamOf(lease: LeaseObject): { host: string; port: number } {
  const url = lease.status?.url;
  if (!url || lease.status?.phase !== 'Active')
    throw new CompatError(
      409,
      `container "${lease.metadata.name}" is ${lease.status?.phase ?? 'Pending'}, not running`,
    );
  const parsed = new URL(url);
  return { host: parsed.host, port: Number(parsed.port || 80) };
}

/** Leaves request bodies unread, so that they stream to the container as they arrive. */
export async function passBodiesThrough(scope: FastifyInstance): Promise<void> {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', (_request, _payload, done) => done(null));
}

export async function forward(
  request: FastifyRequest,
  reply: FastifyReply,
  lease: LeaseObject,
  rest: string,
): Promise<void> {
  const { host, port } = upstreamOf(lease);
  const query = request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : '';
  const headers = { ...request.headers, host };
  delete headers.authorization;
  reply.hijack();
  await new Promise<void>((resolve) => {
    const upstream = http.request(
      { host: '127.0.0.1', port, method: request.method, path: `/${rest}${query}`, headers },
      (answer) => {
        reply.raw.writeHead(answer.statusCode ?? 502, { ...answer.headers, 'x-container-id': lease.metadata.name });
        answer.pipe(reply.raw);
        answer.on('end', resolve);
        answer.on('error', () => resolve());
      },
    );
    upstream.on('error', (error) => {
      if (!reply.raw.headersSent)
        reply.raw.writeHead(502, { 'content-type': 'application/json', 'x-container-id': lease.metadata.name });
      reply.raw.end(JSON.stringify({ error: `container "${lease.metadata.name}" did not answer: ${error.message}` }));
      resolve();
    });
    request.raw.pipe(upstream);
  });
}
