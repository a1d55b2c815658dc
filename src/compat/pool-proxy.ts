import http from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LeaseObject } from '../model/types.js';
import { withoutQueryToken } from '../api/query-token.js';
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

/**
 * What follows `/container/{id}` in the request's own bytes, query included. Not the
 * route's decoded `*`: decoding would turn `%20` or `%0A` into characters a request
 * line cannot carry, and `%3F` into the start of a query.
 */
export function upstreamPath(url: string): string {
  const match = /^(?:\/containerpool)?\/container\/[^/?]*(.*)$/s.exec(url);
  const rest = match?.[1] ?? '';
  return rest.startsWith('/') ? rest : `/${rest}`;
}

export async function forward(
  request: FastifyRequest,
  reply: FastifyReply,
  lease: LeaseObject,
  apiToken: string,
): Promise<void> {
  const { host, port } = upstreamOf(lease);
  // The API token stays here, whichever way it came: the container is not Luma's operator.
  const path = upstreamPath(withoutQueryToken(request.url, apiToken));
  const headers = { ...request.headers, host };
  delete headers.authorization;
  reply.hijack();
  await new Promise<void>((resolve) => {
    let upstream: http.ClientRequest;
    try {
      upstream = http.request({ host: '127.0.0.1', port, method: request.method, path, headers }, answered);
    } catch (error) {
      // Options node refuses (a header or method it will not send): answered, not left hanging.
      reply.raw.writeHead(400, { 'content-type': 'application/json', 'x-container-id': lease.metadata.name });
      reply.raw.end(JSON.stringify({ error: `cannot forward this request: ${(error as Error).message}` }));
      resolve();
      return;
    }
    function answered(answer: http.IncomingMessage): void {
      reply.raw.writeHead(answer.statusCode ?? 502, { ...answer.headers, 'x-container-id': lease.metadata.name });
      answer.pipe(reply.raw);
      answer.on('end', resolve);
      answer.on('error', () => resolve());
    }
    upstream.on('error', (error) => {
      if (!reply.raw.headersSent)
        reply.raw.writeHead(502, { 'content-type': 'application/json', 'x-container-id': lease.metadata.name });
      reply.raw.end(JSON.stringify({ error: `container "${lease.metadata.name}" did not answer: ${error.message}` }));
      resolve();
    });
    request.raw.pipe(upstream);
  });
}
