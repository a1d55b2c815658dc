import { describe, expect, it } from 'vitest';
import { BadRequestError, StandbyError, statusFor, tooLargeError } from '../../../src/api/errors.js';

// A body over a limit is refused with the limit that applied and where it comes from.

const LIMITS = { manifestBytes: 4 * 1024 * 1024, uploadBytes: 256 * 1024 * 1024 };

function fastifyError(code: string): Error {
  return Object.assign(new Error('Request body is too large'), { code, statusCode: 413 });
}

describe('tooLargeError', () => {
  it('names the manifest limit for JSON and YAML bodies', () => {
    const error = tooLargeError(fastifyError('FST_ERR_CTP_BODY_TOO_LARGE'), 'application/json', LIMITS);
    expect(statusFor(error)).toEqual({
      status: 413,
      body: {
        error: 'TooLarge',
        message: "the request body is over the API's limit of 4 MiB (4194304 bytes) for manifests",
      },
    });
    expect(tooLargeError(fastifyError('FST_ERR_CTP_BODY_TOO_LARGE'), 'application/yaml', LIMITS)?.message).toMatch(
      /4 MiB .* for manifests$/,
    );
  });

  it('names the upload limit and its operator setting for archives and multipart files', () => {
    expect(tooLargeError(fastifyError('FST_ERR_CTP_BODY_TOO_LARGE'), 'application/gzip', LIMITS)?.message).toBe(
      "the request body is over the API's limit of 256 MiB (268435456 bytes) for build contexts (operator setting maxUploadBytes)",
    );
    expect(
      tooLargeError(fastifyError('FST_REQ_FILE_TOO_LARGE'), 'multipart/form-data; boundary=x', {
        ...LIMITS,
        uploadBytes: 1000,
      })?.message,
    ).toMatch(/limit of 1000 bytes for build contexts/);
  });

  it('leaves every other error alone', () => {
    expect(tooLargeError(new BadRequestError('nope'), 'application/json', LIMITS)).toBeUndefined();
    expect(tooLargeError(new Error('boom'), undefined, LIMITS)).toBeUndefined();
  });
});

describe('a standby controller', () => {
  it('answers 409 Standby and points at the leader', () => {
    const { status, body } = statusFor(new StandbyError('the watched directory is synced by the leading controller'));
    expect(status).toBe(409);
    expect(body.error).toBe('Standby');
    expect(body.message).toMatch(/synced by the leading controller; this controller stands by: ask the leader/);
  });
});
