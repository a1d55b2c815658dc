import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isHiddenPath, isManifestPath } from '../../../src/sync/scan.js';
import { MAX_DEPTH, walkDirectory, WalkLimitError } from '../../../src/sync/walk.js';

// Listing the watched directory through symbolic links, on a real temporary directory:
// links to files and directories are followed, a ConfigMap mount lists each file once by
// its visible name, and loops are reported for their path instead of hanging the walk.

let root: string;
let dir: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'luma-walk-'));
  dir = path.join(root, 'manifests');
  await mkdir(dir);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const walkManifests = () => walkDirectory(dir, { skip: isHiddenPath, include: isManifestPath });

async function write(file: string, text = 'x'): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, text);
}

describe('walkDirectory', () => {
  it('follows links to files and to directories, wherever they point', async () => {
    await write(path.join(root, 'elsewhere', 'one.yaml'));
    await write(path.join(root, 'shared', 'two.yml'));
    await write(path.join(dir, 'plain.yaml'));
    await symlink(path.join(root, 'elsewhere', 'one.yaml'), path.join(dir, 'one.yaml'));
    await symlink('../shared', path.join(dir, 'shared'));
    expect(await walkManifests()).toEqual({ files: ['one.yaml', 'plain.yaml', 'shared/two.yml'], problems: [] });
  });

  it('lists a ConfigMap mount once, by the names a person sees', async () => {
    await write(path.join(dir, 'cm', '..2026_12_07_10_00_00.1', 'app.yaml'));
    await symlink('..2026_12_07_10_00_00.1', path.join(dir, 'cm', '..data'));
    await symlink('..data/app.yaml', path.join(dir, 'cm', 'app.yaml'));
    expect(await walkManifests()).toEqual({ files: ['cm/app.yaml'], problems: [] });
  });

  it('reports a link back to a directory being walked, and a link that loops on itself, and goes on', async () => {
    await write(path.join(dir, 'sub', 'ok.yaml'));
    await symlink('..', path.join(dir, 'sub', 'up'));
    await symlink('self.yaml', path.join(dir, 'self.yaml'));
    const result = await walkManifests();
    expect(result.files).toEqual(['sub/ok.yaml']);
    expect(result.problems).toEqual([
      { file: 'self.yaml', message: 'not followed: a symbolic link loop (self.yaml -> self.yaml)' },
      {
        file: 'sub/up',
        message: 'not followed: a symbolic link loop (sub/up -> .. leads back to a directory that contains it)',
      },
    ]);
  });

  it('reports a manifest link that leads nowhere, and says nothing of other dangling links', async () => {
    await symlink('missing.yaml', path.join(dir, 'gone.yaml'));
    await symlink('missing', path.join(dir, 'README'));
    const result = await walkManifests();
    expect(result.files).toEqual([]);
    expect(result.problems.map((problem) => problem.file)).toEqual(['gone.yaml']);
    expect(result.problems[0]?.message).toContain('a symbolic link to nothing (gone.yaml -> missing.yaml)');
  });

  it('stops at MAX_DEPTH a chain of links that is not a loop', async () => {
    // Each level links to a fresh directory that links on: no directory repeats.
    for (let level = 0; level <= MAX_DEPTH + 1; level++) {
      await mkdir(path.join(root, `d${level}`));
      await symlink(path.join(root, `d${level + 1}`), path.join(root, `d${level}`, 'next'));
    }
    await mkdir(path.join(root, `d${MAX_DEPTH + 2}`));
    await symlink(path.join(root, 'd0'), path.join(dir, 'deep'));
    const result = await walkManifests();
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]?.message).toContain(`nested more than ${MAX_DEPTH} directories deep`);
  });

  it('fails as a whole beyond its entry limit (a link to a large directory): a partial listing would look like deletions', async () => {
    for (let index = 0; index < 6; index++) await write(path.join(dir, `p${index}.yaml`));
    const walk = walkDirectory(dir, { skip: isHiddenPath, include: isManifestPath, maxEntries: 5 });
    await expect(walk).rejects.toThrow(WalkLimitError);
    await expect(walk).rejects.toThrow('more than 5 entries below it');
    expect(
      (await walkDirectory(dir, { skip: isHiddenPath, include: isManifestPath, maxEntries: 6 })).files,
    ).toHaveLength(6);
  });
});
