import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ArchiveError } from '../images/archive.js';
import { ContextError } from '../images/context.js';
import type { ApiOptions } from './api-options.js';
import { BadRequestError } from './errors.js';
import { documented, json, refusal } from './openapi.js';

// POST /contexts: a build context uploaded as the body (tar, tar.gz, zip) or as a
// multipart file field; answers the digest an Image manifest names it by.

type ContextOptions = Pick<ApiOptions, 'contexts' | 'maxUploadBytes'>;

const contextQuery = {
  type: 'object',
  properties: {
    dockerfile: {
      type: 'string',
      minLength: 1,
      maxLength: 4096,
      description: "The Image's spec.build.dockerfile: counted in the digest even where .dockerignore leaves it out",
    },
  },
  additionalProperties: false,
} as const;

export function registerContextRoutes(app: FastifyInstance, options: ContextOptions): void {
  app.post(
    '/contexts',
    {
      schema: {
        summary:
          'Upload a build context (tar, tar.gz or zip as the request body); returns its digest for Image manifests',
        querystring: contextQuery,
      },
      config: documented({
        response: {
          200: json({ type: 'object', required: ['digest'], properties: { digest: { type: 'string' } } }),
          400: refusal('not an archive, or one that would write outside its context'),
          413: refusal('over maxUploadBytes'),
        },
      }),
    },
    async (request) => {
      const archive = await archiveOf(request, options.maxUploadBytes);
      try {
        const { dockerfile } = request.query as { dockerfile?: string };
        return { digest: await options.contexts.ingestArchive(archive, dockerfile ? { dockerfile } : {}) };
      } catch (error) {
        if (error instanceof ArchiveError || error instanceof ContextError)
          throw new BadRequestError(`context refused: ${error.message}`);
        throw error;
      }
    },
  );
}

async function archiveOf(request: FastifyRequest, maxUploadBytes: number): Promise<Buffer> {
  if (request.isMultipart()) {
    const file = await request.file();
    if (!file) throw new BadRequestError('the multipart form holds no file; send the archive as a file field');
    const archive = await file.toBuffer();
    if (file.file.truncated) throw new BadRequestError(`the archive is larger than ${maxUploadBytes} bytes`);
    return archive;
  }
  if (Buffer.isBuffer(request.body)) return request.body;
  throw new BadRequestError(
    'send the archive as the body (Content-Type application/x-tar, application/gzip or application/zip) or as a multipart file field',
  );
}
