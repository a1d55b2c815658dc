import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { setTimeout } from 'node:timers/promises';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from '../util/logger.js';
import { ManifestError } from '../model/parse.js';
import { DockerUnavailableError } from '../runtime/errors.js';
import { RenewalError } from './lease-renewal.js';
import { ConflictError, InvalidObjectError, TerminatingError } from '../store/store.js';
import { errorMessage } from '../util/error-message.js';

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
  constructor(
    message: string,
    /** 400, or 413 for a body over a limit. */
    readonly status: 400 | 413 = 400,
  ) {
    super(message);
    this.name = 'BadRequestError';
  }
}

/** Asked of a controller that stands by while another, sharing its database, leads. */
export class StandbyError extends Error {
  readonly code = 'Standby';
  constructor(message: string) {
    super(`${message}; this controller stands by: ask the leader (its /healthz says leader: true)`);
    this.name = 'StandbyError';
  }
}

/** fastify's (and its multipart plugin's) refusals of a body over a limit. */
const TOO_LARGE_CODES = new Set(['FST_ERR_CTP_BODY_TOO_LARGE', 'FST_REQ_FILE_TOO_LARGE']);

export interface BodyLimits {
  /** Manifests and other JSON or YAML bodies. */
  manifestBytes: number;
  /** Build-context archives (operator setting maxUploadBytes). */
  uploadBytes: number;
}

/**
 * A body over a limit, said with the limit and where it comes from, so that a user can
 * split the input or ask the operator; undefined for any other error.
 */
export function tooLargeError(
  error: unknown,
  contentType: string | undefined,
  limits: BodyLimits,
): BadRequestError | undefined {
  if (!TOO_LARGE_CODES.has(String((error as { code?: unknown }).code))) return undefined;
  const upload = !/json|yaml|text\/plain/.test(contentType ?? '');
  const limit = upload
    ? `${formatBytes(limits.uploadBytes)} for build contexts (operator setting maxUploadBytes)`
    : `${formatBytes(limits.manifestBytes)} for manifests`;
  return new BadRequestError(`the request body is over the API's limit of ${limit}`, 413);
}

function formatBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return Number.isInteger(mib) ? `${mib} MiB (${bytes} bytes)` : `${bytes} bytes`;
}

export interface ErrorBody {
  error: string;
  message: string;
  issues?: Array<{ file: string; line: number; column: number; path: string; message: string }>;
}

export function statusFor(error: unknown): { status: number; body: ErrorBody } {
  if (error instanceof ManifestError)
    return { status: 422, body: { error: 'Invalid', message: error.message, issues: error.issues } };
  if (error instanceof InvalidObjectError) return { status: 422, body: { error: 'Invalid', message: error.message } };
  if (error instanceof ConflictError) return { status: 409, body: { error: 'Conflict', message: error.message } };
  if (error instanceof TerminatingError) return { status: 409, body: { error: 'Terminating', message: error.message } };
  if (error instanceof RenewalError)
    return {
      status: error.status,
      body: {
        error: error.status === 404 ? 'NotFound' : error.status === 409 ? 'Conflict' : 'Invalid',
        message: error.message,
      },
    };
  if (error instanceof NotFoundError) return { status: 404, body: { error: 'NotFound', message: error.message } };
  if (error instanceof BadRequestError)
    return {
      status: error.status,
      body: { error: error.status === 413 ? 'TooLarge' : 'BadRequest', message: error.message },
    };
  if (error instanceof StandbyError) return { status: 409, body: { error: 'Standby', message: error.message } };
  if (error instanceof DockerUnavailableError)
    return { status: 503, body: { error: 'DockerUnavailable', message: error.message } };
  const fastifyError = error as { statusCode?: unknown; message?: unknown };
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode < 500) {
    return { status: fastifyError.statusCode, body: { error: 'BadRequest', message: String(fastifyError.message) } };
  }
  return { status: 500, body: { error: 'Internal', message: errorMessage(error) } };
}

export function sendError(reply: FastifyReply, error: unknown): FastifyReply {
  const { status, body } = statusFor(error);
  return reply.code(status).send(body);
}

/** The most of a refused body read (and dropped) so that its sender hears why, rather than a broken pipe. */
const MAX_DRAINED_BYTES = 64 * 1024 * 1024;
const MAX_DRAIN_MS = 10_000;

/** Every route's errors become answers here: statusFor's status and body, 5xx logged. */
export function answerErrors(app: FastifyInstance, limits: BodyLimits, logger: Logger): void {
  app.setErrorHandler(async (error, request, reply) => {
    const tooLarge = tooLargeError(error, request.headers['content-type'], limits);
    const { status, body } = statusFor(tooLarge ?? error);
    if (status >= 500) logger.error({ err: error }, 'API error');
    if (tooLarge) await drainBody(request.raw);
    return reply.code(status).send(body);
  });
}

/**
 * A client still sending a body that was refused for its size gets a reset connection,
 * and reports that instead of the 413 (the CLI saw EPIPE): the rest is read and dropped
 * first, within bounds; a body beyond them is cut off, as before.
 */
async function drainBody(raw: IncomingMessage): Promise<void> {
  if (raw.complete || Number(raw.headers['content-length'] ?? MAX_DRAINED_BYTES + 1) > MAX_DRAINED_BYTES) return;
  raw.resume();
  await Promise.race([once(raw, 'end').catch(() => undefined), setTimeout(MAX_DRAIN_MS, undefined, { ref: false })]);
}
