import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { readBuildInfo, versionLine } from '../../../src/cli/build-info.js';

// luma --version: the commit is recorded at build time, offline, and is "unknown" where
// there is no git checkout.

const SCRIPT = path.resolve(import.meta.dirname, '../../../scripts/build-info.js');
let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function layout(buildInfo?: object): Promise<string> {
  dir = await mkdtemp(path.join(os.tmpdir(), 'luma-build-info-'));
  await mkdir(path.join(dir, 'dist', 'cli'), { recursive: true });
  await writeFile(path.join(dir, 'package.json'), '{"version": "9.8.7"}');
  if (buildInfo) await writeFile(path.join(dir, 'dist', 'build-info.json'), JSON.stringify(buildInfo));
  return pathToFileURL(path.join(dir, 'dist', 'cli', 'build-info.js')).href;
}

describe('build info', () => {
  it('reads the version and the recorded commit', async () => {
    const info = readBuildInfo(await layout({ commit: 'abc123', dirty: false }));
    expect(info).toEqual({ version: '9.8.7', commit: 'abc123', dirty: false });
    expect(versionLine(info)).toBe('luma 9.8.7 (commit abc123)');
    expect(versionLine({ ...info, dirty: true })).toBe('luma 9.8.7 (commit abc123, with uncommitted changes)');
  });

  it('says unknown when nothing was recorded (run from source)', async () => {
    expect(readBuildInfo(await layout()).commit).toBe('unknown');
  });

  it('records "unknown" when built outside a git checkout', async () => {
    await layout();
    execFileSync(process.execPath, [SCRIPT], {
      cwd: dir,
      env: { ...process.env, GIT_DIR: path.join(dir ?? '', 'no-git') },
    });
    const recorded = JSON.parse(await readFile(path.join(dir ?? '', 'dist', 'build-info.json'), 'utf8')) as object;
    expect(recorded).toEqual({ commit: 'unknown', dirty: false });
  });
});
