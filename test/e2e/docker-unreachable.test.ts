import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from '../support/luma.js';

// When the engine cannot be reached, `luma up` says so in one line, with what to do.

describe('Docker engine unreachable', () => {
  it('makes `luma up` fail with one line naming the endpoint and the fix', async () => {
    const dir = await tempDir('nodocker');
    const result = await runCli(
      [
        'up',
        '--state-dir',
        path.join(dir, 'state'),
        '--manifests',
        dir,
        '--listen',
        '127.0.0.1:0',
        '--api-listen',
        '127.0.0.1:0',
      ],
      {
        env: { DOCKER_HOST: `unix://${dir}/no-such-docker.sock`, LUMA_LOG_LEVEL: 'silent' },
      },
    );
    expect(result.code).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/cannot reach the Docker engine at unix:\/\/.*no-such-docker\.sock/);
    expect(lines[0]).toMatch(/start it/);
  });
});
