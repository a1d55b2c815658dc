import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProjectObject } from '../../src/model/types.js';
import { buildTestImage, TEST_IMAGE, testInstance } from '../support/docker.js';
import {
  eventually,
  projectManifest,
  request,
  runCli,
  startLuma,
  tempDir,
  writeConfig,
  type LumaProcess,
} from '../support/luma.js';
import { startBackend, type BackendName, type RuntimeBackend } from '../support/runtime-backend.js';
import { E2E_BACKENDS } from '../support/long-run.js';

// Issue 2's central promise through a real `luma up` and the real CLI: a cold project
// starts on its first request, idles to zero, and starts again. Run twice: on the
// machine's Docker engine, and with `--runtime swarm` on a one-node swarm of its own with
// a registry (issue 22), where an instance is a service scaled between 0 and 1.

describe.each<BackendName>(E2E_BACKENDS)('scale to zero through `luma up` (%s runtime)', (backendName) => {
  const instance = testInstance(`stz-${backendName}`);
  let luma: LumaProcess;
  let dir: string;
  let backend: RuntimeBackend;
  const containersOf = async (_instance: string, name: string) => backend.instancesOf(instance, name);
  const runningContainersOf = async (_instance: string, name: string) =>
    (await backend.instancesOf(instance, name)).filter((found) => found.running);

  beforeAll(async () => {
    await buildTestImage();
    backend = await startBackend(backendName);
    dir = await tempDir('stz');
    await mkdir(path.join(dir, 'manifests'));
    const config = await writeConfig(dir, { resyncInterval: '1s', stopTimeout: '2s' });
    luma = await startLuma({
      stateDir: path.join(dir, 'state'),
      manifests: path.join(dir, 'manifests'),
      instance,
      config,
      args: backend.args,
      env: backend.env,
    });
  });

  afterAll(async () => {
    await luma?.stop();
    await backend?.close(instance);
    await rm(dir, { recursive: true, force: true });
  });

  async function getProject(name: string): Promise<ProjectObject> {
    const result = await runCli(['get', 'project', name, '-o', 'json'], { api: luma.api });
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as ProjectObject;
  }

  it('starts no container at apply, one on the first request, stops it after idleTimeout and starts it again', async () => {
    const file = path.join(dir, 'cold.yaml');
    await writeFile(
      file,
      projectManifest('cold', { image: TEST_IMAGE, hostnames: ['cold.localhost'], idleTimeout: '1s' }),
    );
    const applied = await runCli(['apply', '-f', file], { api: luma.api });
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain('project/cold created');

    await eventually(async () => (await getProject('cold')).status?.phase === 'Idle', 10_000, 'phase Idle after apply');
    expect(await containersOf(instance, 'cold')).toHaveLength(0);

    const first = await request(luma.proxyPort, 'cold.localhost');
    expect(first.status).toBe(200);
    expect(first.body).toBe('hello from the test app\n');
    expect(await containersOf(instance, 'cold')).toHaveLength(1);
    expect(await runningContainersOf(instance, 'cold')).toHaveLength(1);
    await eventually(async () => (await getProject('cold')).status?.phase === 'Running', 5_000, 'phase Running');

    // 1 s idle timeout: the container is stopped (kept for a fast restart) and the phase is Idle.
    await eventually(async () => (await runningContainersOf(instance, 'cold')).length === 0, 10_000, 'idle stop');
    await eventually(
      async () => (await getProject('cold')).status?.phase === 'Idle',
      5_000,
      'phase Idle after idle stop',
    );

    const again = await request(luma.proxyPort, 'cold.localhost');
    expect(again.status).toBe(200);
    expect(again.body).toBe('hello from the test app\n');
    expect(await containersOf(instance, 'cold')).toHaveLength(1);
  });

  it('answers 100 simultaneous first requests with 200 and creates exactly one container', async () => {
    const file = path.join(dir, 'burst.yaml');
    await writeFile(
      file,
      projectManifest('burst', { image: TEST_IMAGE, hostnames: ['burst.localhost'], idleTimeout: '30s' }),
    );
    expect((await runCli(['apply', '-f', file], { api: luma.api })).code).toBe(0);
    await eventually(async () => (await getProject('burst')).status?.phase === 'Idle', 10_000, 'phase Idle');

    const answers = await Promise.all(Array.from({ length: 100 }, () => request(luma.proxyPort, 'burst.localhost')));
    expect(answers.map((answer) => answer.status)).toEqual(Array(100).fill(200));
    expect(new Set(answers.map((answer) => answer.body))).toEqual(new Set(['hello from the test app\n']));
    expect(await containersOf(instance, 'burst')).toHaveLength(1);
  });

  it('passes PORT, env and X-Forwarded headers to the app', async () => {
    const file = path.join(dir, 'envy.yaml');
    await writeFile(
      file,
      projectManifest('envy', { image: TEST_IMAGE, hostnames: ['envy.localhost'], env: { GREETING: 'hi there' } }),
    );
    expect((await runCli(['apply', '-f', file], { api: luma.api })).code).toBe(0);
    const answer = await request(luma.proxyPort, 'envy.localhost:8080', '/cgi-bin/env');
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('PORT=8080');
    expect(answer.body).toContain('GREETING=hi there');
    expect(answer.body).toContain('HTTP_X_FORWARDED_FOR=127.0.0.1');
    expect(answer.body).toContain('HTTP_X_FORWARDED_HOST=envy.localhost:8080');
    expect(answer.body).toContain('HTTP_X_FORWARDED_PROTO=http');
  });

  it('answers an unknown host with 404 and a body that says so', async () => {
    const answer = await request(luma.proxyPort, 'nobody.localhost');
    expect(answer.status).toBe(404);
    expect(answer.body).toContain('no project is routed for host "nobody.localhost"');
  });

  it('answers 503 with Retry-After when the app does not become ready within startupTimeout', async () => {
    const file = path.join(dir, 'never.yaml');
    // A command that never listens: the readiness probe cannot pass.
    await writeFile(
      file,
      projectManifest('never', { image: TEST_IMAGE, hostnames: ['never.localhost'], startupTimeout: '2s' }) +
        '  command: ["/bin/busybox", "sleep", "3600"]\n',
    );
    const applied = await runCli(['apply', '-f', file], { api: luma.api });
    expect(applied.code, applied.stderr).toBe(0);
    const started = Date.now();
    const answer = await request(luma.proxyPort, 'never.localhost');
    expect(answer.status).toBe(503);
    expect(answer.headers['retry-after']).toBeDefined();
    expect(answer.body).toContain('did not become ready within 2s');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
  });
});
