import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ApiTokenError, apiTokenPath, ensureApiToken, readStoredApiToken } from '../../../src/api/api-token.js';

// The token file: made once, 0600, the same for every process on one state directory.

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'luma-token-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function modeOf(file: string): Promise<number> {
  return (await stat(file)).mode & 0o777;
}

describe('ensureApiToken', () => {
  it('makes a long random token at the first start, readable by its owner only, and keeps it afterwards', async () => {
    const stateDir = path.join(dir, 'state');
    const token = await ensureApiToken(stateDir);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(await modeOf(apiTokenPath(stateDir))).toBe(0o600);
    expect(await ensureApiToken(stateDir)).toBe(token);
    expect(await ensureApiToken(path.join(dir, 'other'))).not.toBe(token);
  });

  it('gives processes starting together on one state directory the same token, and leaves no staging file', async () => {
    const tokens = await Promise.all(Array.from({ length: 8 }, () => ensureApiToken(dir)));
    expect(new Set(tokens).size).toBe(1);
    expect((await readFile(apiTokenPath(dir), 'utf8')).trim()).toBe(tokens[0]);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(dir)).toEqual(['api-token']);
  });

  it('narrows a token file others can read back to 0600', async () => {
    await writeFile(apiTokenPath(dir), 'kept-token\n');
    await chmod(apiTokenPath(dir), 0o644);
    expect(await ensureApiToken(dir)).toBe('kept-token');
    expect(await modeOf(apiTokenPath(dir))).toBe(0o600);
  });

  it('refuses an empty token file with what to do, rather than accepting any token', async () => {
    await writeFile(apiTokenPath(dir), '\n', { mode: 0o600 });
    await expect(ensureApiToken(dir)).rejects.toThrow(ApiTokenError);
    await expect(ensureApiToken(dir)).rejects.toThrow(/api-token is empty or malformed; delete it and restart Luma/);
  });
});

describe('readStoredApiToken (the CLI on the same machine)', () => {
  it('reads the token, or says why there is none', async () => {
    expect(readStoredApiToken(dir)).toEqual({ missing: `no token file at ${apiTokenPath(dir)}` });
    const token = await ensureApiToken(dir);
    expect(readStoredApiToken(dir)).toEqual({ token });
  });
});
