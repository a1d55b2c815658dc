// Errors the runtime raises, each with a message a user can act on.

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOENT', 'EACCES', 'EPERM', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT']);

export class DockerUnavailableError extends Error {
  readonly code = 'DockerUnavailable';
  constructor(
    readonly endpoint: string,
    readonly detail: string,
  ) {
    super(
      `cannot reach the Docker engine at ${endpoint} (${detail}); start it (sudo dockerd &, or sudo systemctl start docker) or point DOCKER_HOST at it`,
    );
    this.name = 'DockerUnavailableError';
  }
}

export class ImageNotFoundError extends Error {
  readonly code = 'ImageNotFound';
  constructor(readonly image: string) {
    super(
      `image "${image}" is not present on this machine and no registry is configured to pull it from; build it or declare an Image`,
    );
    this.name = 'ImageNotFoundError';
  }
}

interface ErrorWithCode {
  code?: unknown;
  statusCode?: unknown;
  message?: unknown;
}

export function isUnreachableError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as ErrorWithCode).code;
  return typeof code === 'string' && UNREACHABLE_CODES.has(code);
}

export function dockerStatusCode(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = (error as ErrorWithCode).statusCode;
  return typeof status === 'number' ? status : undefined;
}
