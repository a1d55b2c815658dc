import { chmod, chown, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkPrivateDirectory, UnsafeDirectoryError } from '../../../src/util/private-directory.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'luma-private-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('checkPrivateDirectory', () => {
  it('accepts a directory of ours that others cannot write', async () => {
    await checkPrivateDirectory(dir);
    await chmod(dir, 0o755);
    await checkPrivateDirectory(dir);
  });

  it.each([
    [0o775, '775'],
    [0o757, '757'],
    [0o1777, '1777'],
  ])('refuses mode %o, which lets others replace the socket', async (mode, shown) => {
    await chmod(dir, mode);
    await expect(checkPrivateDirectory(dir)).rejects.toThrow(
      `${dir} is not a safe place for the management socket: others can write in it (mode ${shown})`,
    );
  });

  it('refuses a symlink, even to a private directory, and a file', async () => {
    await mkdir(path.join(dir, 'real'), { mode: 0o700 });
    await symlink(path.join(dir, 'real'), path.join(dir, 'link'));
    await expect(checkPrivateDirectory(path.join(dir, 'link'))).rejects.toThrow('it is a symlink');
    await writeFile(path.join(dir, 'file'), '');
    await expect(checkPrivateDirectory(path.join(dir, 'file'))).rejects.toThrow(UnsafeDirectoryError);
  });

  // Only root can give a directory away.
  it.skipIf(process.getuid?.() !== 0)('refuses a directory owned by another user', async () => {
    await chmod(dir, 0o700);
    await chown(dir, 65534, 65534);
    await expect(checkPrivateDirectory(dir)).rejects.toThrow(`it is owned by uid 65534, not by this process's uid 0`);
  });
});
