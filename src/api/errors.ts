import type { FastifyReply } from 'fastify';
import { ManifestError } from '../model/parse.js';
import { DockerUnavailableError } from '../runtime/errors.js';
import { RenewalError } from './lease-renewal.js';
import { ConflictError, InvalidObjectError, TerminatingError } from '../store/store.js';

// Errors are declared once and turned into HTTP answers here, in one place.

export class NotFoundError extends Error {
  readonly code = 'NotFound';
  constructor(what: string) {
    super(`${what} not found`);
    this.name = 'NotFoundError';
  }
}

export class BadRequestError extends Error {
  readonly code = 'BadRequest';
  constructor(message: string) {
    super(message);
    this.name = 'BadRequestError';
  }
}

export interface ErrorBody {
  error: string;
  message: string;
  issues?: Array<{ file: string; line: number; column: number; path: string; message: string }>;
}

export function statusFor(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof ManifestError) return { status: 422, body: { error: 'Invalid', message: error.message, issues: error.issues } };
  if (error instanceof InvalidObjectError) return { status: 422, body: { error: 'Invalid', message: error.message } };
  if (error instanceof ConflictError) return { status: 409, body: { error: 'Conflict', message: error.message } };
  if (error instanceof TerminatingError) return { status: 409, body: { error: 'Terminating', message: error.message } };
  if (error instanceof RenewalError) return { status: error.status, body: { error: error.status === 404 ? 'NotFound' : error.status === 409 ? 'Conflict' : 'Invalid', message: error.message } };
  if (error instanceof NotFoundError) return { status: 404, body: { error: 'NotFound', message: error.message } };
  if (error instanceof BadRequestError) return { status: 400, body: { error: 'BadRequest', message: error.message } };
  if (error instanceof DockerUnavailableError) return { status: 503, body: { error: 'DockerUnavailable', message: error.message } };
  const fastifyError = error as { statusCode?: unknown; message?: unknown };
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode < 500) {
    return { status: fastifyError.statusCode, body: { error: 'BadRequest', message: String(fastifyError.message) } };
  }
  return { status: 500, body: { error: 'Internal', message: error instanceof Error ? error.message : String(error) } };
}

export function sendError(reply: FastifyReply, error: unknown): FastifyReply {
  const { status, body } = statusFor(error);
  return reply.code(status).send(body);
}
