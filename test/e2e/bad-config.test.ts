import { spawn } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { REPO_ROOT, tempDir } from '../support/luma.js';

// A bad --config file stops `luma up` and `luma controller` before they touch anything,
// with the same file:line:column: path: message lines a bad manifest gets. Nothing here
// reaches Docker: the settings are read first.

const CLI = path.join(REPO_ROOT, 'dist/cli/main.js');
const DEADLINE_MS = 15_000;

const BAD_CONFIG = ['resyncInterval: 5s', 'leases:', '  maxTtl: 1m', 'pool:', '  batchSize: 0', 'idleTimout: 1m', ''];

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, LUMA_INSTANCE: 'bad-config', LUMA_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS);
  return new Promise((resolve) =>
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

describe('a bad --config file', () => {
  it.each(['up', 'controller'])('stops luma %s naming file:line:column and the path of each problem', async (verb) => {
    const dir = await tempDir('bad-config');
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const config = path.join(dir, 'bad.yaml');
    await writeFile(config, BAD_CONFIG.join('\n'));
    const stateDir = path.join(dir, 'state');
    const manifests = path.join(dir, 'manifests');
    await mkdir(manifests);
    const { code, stderr } = await run([
      verb,
      '--config',
      config,
      '--state-dir',
      stateDir,
      '--manifests',
      manifests,
      '--listen',
      '127.0.0.1:0',
      '--api-listen',
      '127.0.0.1:0',
    ]);
    expect(code, stderr).not.toBe(0);
    expect(code, stderr).not.toBeNull();
    expect(stderr).toContain(`${config}:3:11: leases.maxTtl: expected at least leases.minTtl (5m), got 1m`);
    expect(stderr).toContain(`${config}:5:14: pool.batchSize: expected an integer of at least 1, got 0`);
    expect(stderr).toContain(`${config}:6:1: idleTimout: unknown field "idleTimout"`);
    // Refused before anything was written: the state directory holds no objects.
    const written = await readdir(path.join(stateDir, 'objects')).catch(() => []);
    expect(written).toEqual([]);
  });
});
