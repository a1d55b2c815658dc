import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chmod, readFile } from 'node:fs/promises';
import path from 'node:path';
import { errorCode } from '../util/atomic-file.js';
import { readOrCreateOnce, statIfPresent } from '../util/create-once.js';

// The API token: made at the first start, kept in the state directory readable by its
// owner only (0600), so that the CLI on the same machine, run by the same user, finds it
// there and nobody else can. Elsewhere the token is handed over by hand (--token).

export const API_TOKEN_FILE = 'api-token';
const TOKEN_MODE = 0o600;
/** 256 bits: guessing is not an attack worth thinking about. */
const TOKEN_BYTES = 32;

export class ApiTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ApiTokenError';
  }
}

export function apiTokenPath(stateDir: string): string {
  return path.join(stateDir, API_TOKEN_FILE);
}

function parseToken(text: string, file: string): string {
  const token = text.trim();
  if (token.length === 0 || /\s/.test(token)) {
    throw new ApiTokenError(
      `the API token file ${file} is empty or malformed; delete it and restart Luma to make a new token`,
    );
  }
  return token;
}

/**
 * The state directory's token, made when there is none. Creation is create-if-absent
 * (a hard link of a fully written temporary file), so two processes starting on one state
 * directory end up with the same token. A token file that others can read is narrowed
 * back to 0600 rather than trusted as is.
 */
export async function ensureApiToken(stateDir: string): Promise<string> {
  return readOrCreateOnce(stateDir, {
    file: apiTokenPath(stateDir),
    mode: TOKEN_MODE,
    make: () => `${randomBytes(TOKEN_BYTES).toString('base64url')}\n`,
    read: readTokenFile,
    vanished: (file) => new ApiTokenError(`the API token file ${file} disappeared while it was being made`),
  });
}

async function readTokenFile(file: string): Promise<string | undefined> {
  const info = await statIfPresent(file);
  if (info === undefined) return undefined;
  if (!info.isFile()) throw new ApiTokenError(`the API token path ${file} is not a file`);
  if ((info.mode & 0o777) !== TOKEN_MODE) await chmod(file, TOKEN_MODE);
  return parseToken(await readFile(file, 'utf8'), file);
}

/** What the CLI finds in a state directory: the token, or why there is none. */
export type StoredToken = { token: string } | { missing: string };

/** Synchronous on purpose: the CLI reads one tiny file once, before its first request. */
export function readStoredApiToken(stateDir: string): StoredToken {
  const file = apiTokenPath(stateDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = errorCode(error);
    if (code === 'ENOENT') return { missing: `no token file at ${file}` };
    if (code === 'EACCES')
      return { missing: `${file} is not readable by this user (it belongs to the user running Luma)` };
    return { missing: `cannot read ${file} (${code ?? String(error)})` };
  }
  return { token: parseToken(text, file) };
}
