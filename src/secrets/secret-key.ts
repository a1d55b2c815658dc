import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { readOrCreateOnce, statIfPresent } from '../util/create-once.js';
import { SECRET_KEY_BYTES, SecretBox } from './secret-box.js';

// The key that seals secret values at rest: the operator's (--secret-key-file /
// LUMA_SECRET_KEY_FILE), or else one made at the first start in the state directory,
// readable by its owner only. A key file others can read is refused, as ssh refuses a
// private key: it would make the encryption pointless.

export const SECRET_KEY_FILE = 'secret-key';
const KEY_MODE = 0o600;

export class SecretKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretKeyError';
  }
}

export interface SecretKeySource {
  stateDir: string;
  /** The operator's key file; the state directory's own key is made and used when absent. */
  keyFile?: string | undefined;
}

export async function openSecretBox(source: SecretKeySource): Promise<SecretBox> {
  if (source.keyFile !== undefined) {
    const key = await readKeyFile(source.keyFile);
    if (key === undefined) throw new SecretKeyError(`the secret key file ${source.keyFile} does not exist`);
    return new SecretBox(key);
  }
  return new SecretBox(await ensureStateKey(source.stateDir));
}

/**
 * Create-if-absent through a hard link of a fully written file, like the API token: two
 * processes starting on one state directory end up with the same key.
 */
async function ensureStateKey(stateDir: string): Promise<Buffer> {
  return readOrCreateOnce(stateDir, {
    file: path.join(stateDir, SECRET_KEY_FILE),
    mode: KEY_MODE,
    make: () => `${randomBytes(SECRET_KEY_BYTES).toString('base64')}\n`,
    read: readKeyFile,
    vanished: (file) => new SecretKeyError(`the secret key file ${file} disappeared while it was being made`),
  });
}

async function readKeyFile(file: string): Promise<Buffer | undefined> {
  const info = await statIfPresent(file);
  if (info === undefined) return undefined;
  if (!info.isFile()) throw new SecretKeyError(`the secret key path ${file} is not a file`);
  if ((info.mode & 0o077) !== 0)
    throw new SecretKeyError(
      `the secret key file ${file} can be read by others (mode ${(info.mode & 0o777).toString(8)}); chmod 600 it`,
    );
  return parseKey(await readFile(file, 'utf8'), file);
}

/** 32 bytes written as base64 (`openssl rand -base64 32`) or as 64 hex digits. */
export function parseKey(text: string, file: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== SECRET_KEY_BYTES || (!/^[0-9a-fA-F]{64}$/.test(trimmed) && key.toString('base64') !== trimmed))
    throw new SecretKeyError(
      `the secret key file ${file} must hold ${SECRET_KEY_BYTES} bytes as base64 (openssl rand -base64 32) or 64 hex digits`,
    );
  return key;
}
