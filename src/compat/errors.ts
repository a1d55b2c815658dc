import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ManifestError } from '../model/parse.js';
import { DockerUnavailableError } from '../runtime/errors.js';
import { ConflictError, InvalidObjectError, TerminatingError } from '../store/store.js';
import type { Logger } from '../util/logger.js';

// The earlier systems answered errors as `{ "error": "<message>" }` with a status code;
// every compat route answers that way, whatever went wrong underneath (a refused field,
// Luma's admission, a conflict). Declared once here, like src/api/errors.ts for Luma's own.

export class CompatError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'CompatError';
  }
}

export const badRequest = (message: string): CompatError => new CompatError(400, message);
export const notFound = (message: string): CompatError => new CompatError(404, message);
export const conflict = (message: string): CompatError => new CompatError(409, message);

export interface CompatErrorBody {
  error: string;
}

/** Admission and validation speak in Luma's field paths; the message keeps them, one issue per line. */
function manifestMessage(error: ManifestError): string {
  return `refused by Luma: ${error.issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ')}`;
}

export function compatStatusFor(error: unknown): { status: number; body: CompatErrorBody } {
  if (error instanceof CompatError) return { status: error.status, body: { error: error.message } };
  if (error instanceof ManifestError) return { status: 400, body: { error: manifestMessage(error) } };
  if (error instanceof InvalidObjectError) return { status: 400, body: { error: error.message } };
  if (error instanceof ConflictError || error instanceof TerminatingError)
    return { status: 409, body: { error: error.message } };
  if (error instanceof DockerUnavailableError) return { status: 503, body: { error: error.message } };
  const { statusCode, message } = error as Partial<FastifyError>;
  // fastify's own refusals: a body that is not JSON, a schema mismatch, a body over a limit.
  if (typeof statusCode === 'number' && statusCode < 500)
    return { status: statusCode, body: { error: String(message) } };
  return { status: 500, body: { error: error instanceof Error ? error.message : String(error) } };
}

export function compatErrorHandler(logger: Logger) {
  return async (error: unknown, _request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const { status, body } = compatStatusFor(error);
    if (status >= 500) logger.error({ err: error }, 'compat API error');
    return reply.code(status).send(body);
  };
}
