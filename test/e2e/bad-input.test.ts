import { execFile } from 'node:child_process';
import { mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProjectObject } from '../../src/model/types.js';
import { isTempFileName } from '../../src/util/atomic-file.js';
import { buildTestImage, containersOf, removeInstanceContainers, TEST_IMAGE, testInstance } from '../support/docker.js';
import { imageManifest, removeInstanceImages, uniqueName, writeContext } from '../support/images.js';
import {
  apiFetch,
  eventually,
  projectManifest,
  runCli,
  startLuma,
  tempDir,
  writeConfig,
  type LumaProcess,
} from '../support/luma.js';

// Refused input names the file, line, column and field, and changes nothing: not the
// store, not Docker.

describe('bad input is refused and changes nothing', () => {
  const instance = testInstance('bad');
  let luma: LumaProcess;
  let dir: string;
  let stateDir: string;

  beforeAll(async () => {
    await buildTestImage();
    dir = await tempDir('bad');
    stateDir = path.join(dir, 'state');
    await mkdir(path.join(dir, 'manifests'));
    const config = await writeConfig(dir, { resyncInterval: '1s' });
    luma = await startLuma({ stateDir, manifests: path.join(dir, 'manifests'), instance, config });
    const good = path.join(dir, 'taken.yaml');
    await writeFile(
      good,
      projectManifest('taken', { image: TEST_IMAGE, hostnames: ['taken.localhost'], minInstances: 1 }),
    );
    expect((await runCli(['apply', '-f', good], { api: luma.api })).code).toBe(0);
  });

  afterAll(async () => {
    await luma?.stop();
    await removeInstanceContainers(instance);
    await removeInstanceImages(instance);
    await rm(dir, { recursive: true, force: true });
  });

  async function snapshot(): Promise<{ objects: string; files: string[]; containers: string[] }> {
    const listed = await runCli(['get', 'projects', '-o', 'json'], { api: luma.api });
    const objects = JSON.parse(listed.stdout) as { items: ProjectObject[] };
    // Status writes by the controller move resourceVersion; user-owned fields must not move.
    const withoutStatus = objects.items.map(({ metadata: { resourceVersion: _ignored, ...metadata }, spec }) => ({
      metadata,
      spec,
    }));
    // A status write in flight shows as a temporary file for a moment: not a change.
    const files = (await readdir(stateDir, { recursive: true }))
      .map(String)
      .filter((file) => !isTempFileName(path.basename(file)))
      .sort();
    const containers = (await containersOf(instance)).map((container) => container.Id).sort();
    return { objects: JSON.stringify(withoutStatus), files, containers };
  }

  const base = `apiVersion: luma.dev/v1alpha1
kind: Project
metadata:
  name: victim
spec:
  image: ${TEST_IMAGE}
  hostnames:
    - victim.localhost
`;

  const cases: Array<{ name: string; manifest: string; expected: RegExp[] }> = [
    {
      name: 'a wrong type',
      manifest: base + '  port: eighty\n',
      expected: [/bad\.yaml:9:9/, /spec\.port/, /integer/],
    },
    {
      name: 'an unknown field',
      manifest: base + '  replicas: 3\n',
      expected: [/bad\.yaml:9:3/, /replicas/, /unknown field/i],
    },
    {
      name: 'a bad quantity',
      manifest: base + '  resources:\n    memory: 256 potatoes\n',
      expected: [/bad\.yaml:10:13/, /spec\.resources\.memory/, /256Mi/],
    },
    {
      name: 'a bad duration',
      manifest: base + '  scaling:\n    idleTimeout: soon\n',
      expected: [/bad\.yaml:10:18/, /spec\.scaling\.idleTimeout/, /duration/],
    },
    {
      name: 'broken YAML',
      manifest: base + '  env: {GREETING: "unterminated\n',
      expected: [/bad\.yaml:\d+:\d+/],
    },
    {
      name: 'a hostname already taken',
      manifest: base.replace('victim.localhost', 'taken.localhost'),
      expected: [/bad\.yaml:8:7/, /spec\.hostnames\[0\]/, /already routed to project "taken"/],
    },
  ];

  for (const testCase of cases) {
    it(`refuses ${testCase.name} with file:line:column and the field's path`, async () => {
      const before = await snapshot();
      const file = path.join(dir, 'bad.yaml');
      await writeFile(file, testCase.manifest);
      const result = await runCli(['apply', '-f', file], { api: luma.api });
      expect(result.code).not.toBe(0);
      for (const pattern of testCase.expected) expect(result.stderr).toMatch(pattern);
      expect(result.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(await snapshot()).toEqual(before);
    });
  }

  it('refuses a whole multi-document apply when one document is invalid', async () => {
    const before = await snapshot();
    const file = path.join(dir, 'multi.yaml');
    await writeFile(
      file,
      projectManifest('fine', { image: TEST_IMAGE, hostnames: ['fine.localhost'] }) + '---\n' + base + '  port: -1\n',
    );
    const result = await runCli(['apply', '-f', file], { api: luma.api });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/multi\.yaml:\d+:\d+: spec\.port/);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses a write with a stale resourceVersion as a conflict', async () => {
    const current = (await (await apiFetch(luma.api, '/api/v1alpha1/projects/taken')).json()) as ProjectObject;
    const stale = current.metadata.resourceVersion;
    const update = (env: Record<string, string>, resourceVersion: string | undefined): Promise<Response> =>
      apiFetch(luma.api, '/api/v1alpha1/projects/taken', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          apiVersion: current.apiVersion,
          kind: 'Project',
          metadata: { name: 'taken', resourceVersion },
          spec: { ...current.spec, env },
        }),
      });
    const first = await update({ A: '1' }, stale);
    expect(first.status).toBe(200);
    // Let the controller finish replacing the container for the new env before comparing.
    await eventually(
      async () => {
        const object = (await (await apiFetch(luma.api, '/api/v1alpha1/projects/taken')).json()) as ProjectObject;
        const running = await containersOf(instance, 'taken');
        return (
          object.status?.observedGeneration === object.metadata.generation &&
          object.status?.phase === 'Running' &&
          running.length === 1
        );
      },
      15_000,
      'the project converged on the new env',
    );
    const before = await snapshot();
    const second = await update({ A: '2' }, stale);
    expect(second.status).toBe(409);
    expect(((await second.json()) as { message: string }).message).toMatch(/resourceVersion/);
    expect(await snapshot()).toEqual(before);
  });

  it('says in one line when the API cannot be reached', async () => {
    const result = await runCli(['get', 'projects'], { server: 'http://127.0.0.1:9' });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/cannot reach the Luma API at http:\/\/127\.0\.0\.1:9/);
  });

  it('refuses an apply with no object in it, as kubectl does, and changes nothing', async () => {
    const before = await snapshot();
    for (const stdin of ['', '# nothing yet\n---\n']) {
      const result = await runCli(['apply', '-f', '-'], { api: luma.api, stdin });
      expect(result.code, JSON.stringify(stdin)).toBe(1);
      expect(result.stderr).toBe(
        'error: no objects passed to apply (nothing but blanks and comments in standard input)\n',
      );
    }
    expect(await snapshot()).toEqual(before);
  });

  it('says that a server is not the Luma API, rather than printing its 404', async () => {
    const server = `http://127.0.0.1:${luma.proxyPort}`;
    const result = await runCli(['get', 'projects'], { server });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(
      `error: this is not the Luma API at ${server} (GET /api/v1alpha1/projects answered HTTP 404)`,
    );
  });

  it('names the limit and the file when an apply is over the API body limit, and changes nothing', async () => {
    const before = await snapshot();
    const file = path.join(dir, 'huge.yaml');
    const content =
      projectManifest('huge', { image: TEST_IMAGE, hostnames: ['huge.localhost'] }) +
      `# ${'x'.repeat(5 * 1024 * 1024)}\n`;
    await writeFile(file, content);
    const result = await runCli(['apply', '-f', file], { api: luma.api });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `error: ${file} (${Buffer.byteLength(content)} bytes): the request body is over the API's limit of 4 MiB (4194304 bytes) for manifests\n`,
    );
    expect(await snapshot()).toEqual(before);
  });

  it('luma logs: a missing object fails with not found; one without containers says there is nothing to show', async () => {
    const missing = await runCli(['logs', 'project/nosuch'], { api: luma.api });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error: Project "nosuch" not found\n$/);
    const file = path.join(dir, 'quiet.yaml');
    await writeFile(file, projectManifest('quiet', { image: TEST_IMAGE, hostnames: ['quiet.localhost'] }));
    expect((await runCli(['apply', '-f', file], { api: luma.api })).code).toBe(0);
    const empty = await runCli(['logs', 'project/quiet'], { api: luma.api });
    expect(empty).toEqual({ code: 0, stdout: '', stderr: 'luma: project/quiet has no containers: nothing to show\n' });
  });

  // Last: the build these start changes the state directory that the snapshots above compare.
  it('follows a build context given as a symlink to a directory, as docker build does', async () => {
    const name = uniqueName('linked');
    await writeContext(path.join(dir, 'linked', 'real'), { Dockerfile: 'FROM scratch\nCOPY busybox /bin/busybox\n' });
    await symlink('real', path.join(dir, 'linked', 'context'));
    const manifest = path.join(dir, 'linked', 'luma.yaml');
    await writeFile(manifest, imageManifest(name, { context: './context' }));
    const result = await runCli(['apply', '-f', manifest], { api: luma.api });
    expect(result.stderr).toBe('');
    expect(result).toMatchObject({ code: 0, stdout: `image/${name} created\n` });
  });

  it('says in one line, with no stack trace, when a build context cannot be packed', async () => {
    const root = await writeContext(
      path.join(dir, 'fifo', 'context'),
      { Dockerfile: 'FROM scratch\n' },
      { busybox: false },
    );
    await promisify(execFile)('mkfifo', [path.join(root, 'pipe')]);
    const manifest = path.join(dir, 'fifo', 'luma.yaml');
    const name = uniqueName('fifo');
    await writeFile(manifest, imageManifest(name, { context: './context' }));
    const result = await runCli(['apply', '-f', manifest], { api: luma.api });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `error: the build context ${root}: pipe in the build context is neither a file, a directory nor a symlink\n`,
    );
    expect((await runCli(['get', 'image', name], { api: luma.api })).code).toBe(1);
  });
});
